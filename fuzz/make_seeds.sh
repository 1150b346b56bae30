#!/usr/bin/env bash
# Regenerates the committed seed corpus in fuzz/corpus/<target>/: small
# (a few hundred bytes to a few KB) but well-formed inputs for every
# container, codec and tag format the harnesses reach, so AFL starts from
# real structure instead of discovering magic numbers. Needs ffmpeg (with
# libmp3lame and libvorbis, as fixtures/make.sh), python3, and for the CMAF
# seeds the audiopack binary (built with `cargo build -p audiopack-cli`).
#
#   bash fuzz/make_seeds.sh        # from anywhere
#
# Seeds are inputs, not expectations: regenerating them with another ffmpeg
# may change bytes, which is fine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

D="$here/corpus/decode"
T="$here/corpus/tags"
C="$here/corpus/cmaf_parse"
mkdir -p "$D" "$T" "$C"

tone() { # seconds rate channels -> lavfi input args in $A
  local expr="0.4*sin(2*PI*440*t)"
  local exprs="$expr"
  for ((i = 1; i < $3; i++)); do exprs="$exprs|0.3*sin(2*PI*$((330 + 110 * i))*t)"; done
  A=(-f lavfi -i "aevalsrc=exprs='$exprs':s=$2:d=$1")
}

# --- decode: every container and codec, a few hundred samples each --------
tone 0.05 8000 1;  ff "${A[@]}" -c:a pcm_s16le "$D/wav_s16_mono_8k.wav"
tone 0.05 8000 1;  ff "${A[@]}" -c:a pcm_u8 "$D/wav_u8_mono_8k.wav"
tone 0.01 48000 2; ff "${A[@]}" -c:a pcm_s24le "$D/wav_s24_stereo_48k.wav"
tone 0.01 44100 2; ff "${A[@]}" -c:a pcm_f32le "$D/wav_f32_stereo_44k.wav"
tone 0.005 96000 2; ff "${A[@]}" -c:a pcm_s32le "$D/wav_s32_stereo_96k.wav"
tone 0.05 8000 1;  ff "${A[@]}" -c:a pcm_alaw "$D/wav_alaw_mono_8k.wav"
tone 0.05 8000 1;  ff "${A[@]}" -c:a pcm_mulaw "$D/wav_mulaw_mono_8k.wav"
# WAVE_FORMAT_EXTENSIBLE with a 5.1 channel mask.
tone 0.005 48000 6; ff "${A[@]}" -c:a pcm_s16le -channel_layout 5.1 "$D/wav_ext_51_48k.wav"
tone 0.05 8000 1;  ff "${A[@]}" -c:a pcm_s16be "$D/aiff_s16_mono_8k.aiff"
tone 0.01 44100 2; ff "${A[@]}" -c:a pcm_s24be "$D/aiff_s24_stereo_44k.aiff"
# AIFC (float): a COMM chunk with a compression type.
tone 0.01 44100 2; ff "${A[@]}" -c:a pcm_f32be -f aiff "$D/aifc_f32_stereo_44k.aiff"
# FLAC: small blocks so a seed holds several frames (and an MD5).
tone 0.1 8000 1;   ff "${A[@]}" -c:a flac -frame_size 256 "$D/flac_s16_mono_8k.flac"
tone 0.02 48000 2; ff "${A[@]}" -c:a flac -sample_fmt s32 -bits_per_raw_sample 24 -frame_size 192 "$D/flac_s24_stereo_48k.flac"
tone 0.01 48000 6; ff "${A[@]}" -c:a flac -frame_size 192 "$D/flac_s16_51_48k.flac"
# MP3 with a LAME/Xing header (gapless), and without one.
tone 0.2 8000 1;   ff "${A[@]}" -c:a libmp3lame -b:a 8k "$D/mp3_xing_mono_8k.mp3"
tone 0.2 8000 1;   ff "${A[@]}" -c:a libmp3lame -b:a 8k -write_xing 0 "$D/mp3_noxing_mono_8k.mp3"
tone 0.1 44100 2;  ff "${A[@]}" -c:a libmp3lame -b:a 32k "$D/mp3_xing_stereo_44k.mp3"
# Ogg Vorbis (the setup header alone is a few KB).
tone 0.05 8000 1;  ff "${A[@]}" -c:a libvorbis -q:a 0 "$D/ogg_vorbis_mono_8k.ogg"
tone 0.05 44100 2; ff "${A[@]}" -c:a libvorbis -q:a 0 "$D/ogg_vorbis_stereo_44k.ogg"
# Truncated and damaged copies of the fixtures: the error paths.
head -c 2500 "$root/fixtures/stereo_s16_44100.flac" > "$D/flac_fixture_truncated.flac"
head -c 3000 "$root/fixtures/stereo_44100.mp3" > "$D/mp3_fixture_head.mp3"
head -c 4000 "$root/fixtures/stereo_44100.ogg" > "$D/ogg_fixture_head.ogg"
python3 - "$D" <<'PY'
import struct, sys
d = sys.argv[1]
wav = bytearray(open(f"{d}/wav_s16_mono_8k.wav", "rb").read())
# A data chunk that claims more than the file holds (a header lie).
i = wav.find(b"data")
struct.pack_into("<I", wav, i + 4, 0x7FFFFFF0)
open(f"{d}/wav_data_size_lies.wav", "wb").write(wav)
# Two fmt chunks (symphonia would use the second).
wav = bytearray(open(f"{d}/wav_s16_mono_8k.wav", "rb").read())
i = wav.find(b"fmt ")
size = struct.unpack_from("<I", wav, i + 4)[0]
fmt = bytes(wav[i:i + 8 + size])
wav[i:i] = fmt[:8 + 2] + struct.pack("<H", 2) + fmt[8 + 4:]
struct.pack_into("<I", wav, 4, len(wav) - 8)
open(f"{d}/wav_two_fmt.wav", "wb").write(wav)
PY

# ffmpeg writes an 8 KB PADDING block into every FLAC: drop it (seeds stay small).
strip_flac_padding() {
  python3 - "$@" <<'PY'
import sys
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    assert data[:4] == b"fLaC"
    out, p, kept = [b"fLaC"], 4, []
    while True:
        h = data[p]
        size = int.from_bytes(data[p + 1:p + 4], "big")
        if h & 0x7F != 1:  # not PADDING
            kept.append(bytearray(data[p:p + 4 + size]))
        p += 4 + size
        if h & 0x80:
            break
    for b in kept:
        b[0] &= 0x7F
    kept[-1][0] |= 0x80
    open(path, "wb").write(b"".join(out + [bytes(b) for b in kept]) + data[p:])
PY
}
strip_flac_padding "$D"/flac_s16_mono_8k.flac "$D"/flac_s24_stereo_48k.flac "$D"/flac_s16_51_48k.flac
# The damaged copies are made from the stripped files.
head -c 1500 "$D/flac_s16_51_48k.flac" > "$D/flac_51_truncated.flac"
python3 - "$D" <<'PY'
import sys
d = sys.argv[1]
flac = bytearray(open(f"{d}/flac_s16_mono_8k.flac", "rb").read())
flac[len(flac) * 2 // 3] ^= 0x10
open(f"{d}/flac_bitflip.flac", "wb").write(flac)
PY

# --- tags: tag-heavy files with as little audio as possible ---------------
ff -f lavfi -i "color=c=red:s=4x4:d=1" -frames:v 1 "$work/cover.png"
meta=(-metadata title="Fuzz title" -metadata artist="Artist" -metadata album="Album"
      -metadata album_artist="Album artist" -metadata genre="Genre" -metadata date=2026
      -metadata track=3/12 -metadata disc=1/2 -metadata composer="Composer"
      -metadata comment="A comment" -metadata copyright="(c) nobody" -metadata ISRC=XXA002600001)
tone 0.05 8000 1
ff "${A[@]}" -i "$work/cover.png" -map 0 -map 1 -c:a flac -c:v copy -disposition:v attached_pic \
   "${meta[@]}" "$T/flac_comments_picture.flac"
strip_flac_padding "$T/flac_comments_picture.flac"
ff "${A[@]}" -i "$work/cover.png" -map 0 -map 1 -c:a libmp3lame -b:a 8k -c:v copy \
   -id3v2_version 3 -write_id3v1 1 "${meta[@]}" "$T/mp3_id3v23_apic_id3v1.mp3"
ff "${A[@]}" -c:a libmp3lame -b:a 8k -id3v2_version 4 "${meta[@]}" "$T/mp3_id3v24.mp3"
ff "${A[@]}" -c:a pcm_s16le "${meta[@]}" "$T/wav_list_info.wav"
ff "${A[@]}" -c:a pcm_s16be -write_id3v2 1 "${meta[@]}" "$T/aiff_id3.aiff"
ff "${A[@]}" -c:a libvorbis -q:a 0 "${meta[@]}" "$T/ogg_vorbis_comments.ogg"
python3 - "$T" "$D" <<'PY'
import struct, sys
t, d = sys.argv[1], sys.argv[2]

def synchsafe(n):
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])

def id3v24(frames):
    body = b"".join(fid + synchsafe(len(p)) + b"\0\0" + p for fid, p in frames)
    return b"ID3\x04\x00\x00" + synchsafe(len(body)) + body

def text(s):
    return b"\x03" + s.encode() + b"\0"

mp3 = open(f"{d}/mp3_noxing_mono_8k.mp3", "rb").read()
tag1 = id3v24([(b"TIT2", text("first tag")), (b"TPE1", text("one"))])
tag2 = id3v24([(b"TIT2", text("second tag")), (b"TXXX", b"\x03KEY\0value\0"),
               (b"COMM", b"\x03eng\0comment text")])
# Two ID3v2 tags in a row before the audio (the probe reads both).
open(f"{t}/mp3_chained_id3v2.mp3", "wb").write(tag1 + tag2 + mp3)

# An APEv2 tag (header and footer) at the end, before an ID3v1 tag.
items = b""
for key, value in [(b"Title", b"ape title"), (b"Artist", b"ape artist"), (b"Track", b"7")]:
    items += struct.pack("<II", len(value), 0) + key + b"\0" + value
n = len(items) + 32
hdr = lambda flags: b"APETAGEX" + struct.pack("<IIII", 2000, n, 3, flags) + b"\0" * 8
ape = hdr(0xA0000000) + items + hdr(0x80000000)
id3v1 = b"TAG" + b"v1 title".ljust(30, b"\0") + b"v1 artist".ljust(30, b"\0") + b"\0" * 30 + b"2026" + b"\0" * 30 + b"\x0c"
open(f"{t}/mp3_ape_id3v1.mp3", "wb").write(mp3 + ape + id3v1)

# WAV with an `id3 ` chunk.
wav = bytearray(open(f"{d}/wav_s16_mono_8k.wav", "rb").read())
tag = id3v24([(b"TIT2", text("wav id3 title")), (b"TALB", text("album"))])
if len(tag) % 2:
    tag += b"\0"
wav += b"id3 " + struct.pack("<I", len(tag)) + tag
struct.pack_into("<I", wav, 4, len(wav) - 8)
open(f"{t}/wav_id3_chunk.wav", "wb").write(wav)

# FLAC with many tiny Vorbis comments (the per-entry cost path).
flac = open(f"{d}/flac_s16_mono_8k.flac", "rb").read()
assert flac[:4] == b"fLaC"
streaminfo = flac[4:4 + 4 + 34]
frames_at = 4  # skip every metadata block to reach the frames
while True:
    h = flac[frames_at]
    size = int.from_bytes(flac[frames_at + 1:frames_at + 4], "big")
    frames_at += 4 + size
    if h & 0x80:
        break
vendor = b"fuzz"
comments = [b"C%d=x" % i for i in range(200)]
vc = struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
vc += b"".join(struct.pack("<I", len(c)) + c for c in comments)
block = bytes([0x84]) + len(vc).to_bytes(3, "big") + vc
out = b"fLaC" + bytes([streaminfo[0] & 0x7F]) + streaminfo[1:] + block + flac[frames_at:]
open(f"{t}/flac_many_comments.flac", "wb").write(out)
PY
# The tag seeds are audio files too: decode them as well.
for f in "$T"/*; do cp "$f" "$D/tags_$(basename "$f")"; done

# --- cmaf_parse: our own CMAF, as the segmenter writes it -----------------
bin="$root/target/debug/audiopack"
[ -x "$bin" ] || bin="$root/target/release/audiopack"
tone 1.2 48000 2; ff "${A[@]}" -c:a pcm_s16le "$work/in.wav"
"$bin" -q ingest "$work/in.wav" --out "$work/seg" --segment-duration 1 --ladder 32
"$bin" -q ingest "$work/in.wav" --out "$work/single" --layout single-file --ladder 32 --no-lossless
cp "$work/seg/opus_32k/init.mp4" "$C/opus_init.mp4"
cp "$work/seg/opus_32k/1.m4s" "$C/opus_segment_1.m4s"
cp "$work/seg/opus_32k/2.m4s" "$C/opus_segment_2.m4s"
cp "$work/seg/flac/init.mp4" "$C/flac_init.mp4"
cp "$work/seg/flac/2.m4s" "$C/flac_segment_2.m4s"
cp "$work/single/opus_32k.mp4" "$C/opus_single_file.mp4"
# The init segment without its `udta/ludt` (which mp4-atom does not know), so
# the strict parse goes all the way through the moov.
python3 - "$C" <<'PY'
import struct, sys
c = sys.argv[1]
data = bytearray(open(f"{c}/opus_init.mp4", "rb").read())

def strip(buf, path):
    """Removes the box at path (a list of fourccs), fixing parent sizes."""
    p = 0
    while p + 8 <= len(buf):
        size = struct.unpack_from(">I", buf, p)[0]
        if buf[p + 4:p + 8] == path[0]:
            if len(path) == 1:
                del buf[p:p + size]
                return size
            inner = bytearray(buf[p + 8:p + size])
            removed = strip(inner, path[1:])
            if removed:
                buf[p + 8:p + size] = inner
                struct.pack_into(">I", buf, p, size - removed)
            return removed
        p += size
    return 0

strip(data, [b"moov", b"trak", b"udta"])
open(f"{c}/opus_init_no_udta.mp4", "wb").write(data)
PY
ls -l "$D" "$T" "$C" | awk '{s += $5} END {print s " bytes of seeds"}'
