//! Sample encryption for CENC (ISO/IEC 23001-7 §10).
//!
//! * `cenc` (§10.1): AES-128-CTR over the whole sample. The 16-byte
//!   counter block is the 8-byte per-sample IV followed by a 64-bit
//!   big-endian block counter starting at 0 (so the IVs of distinct samples
//!   never produce overlapping key streams).
//! * `cbcs` (§10.4) for audio: no pattern (crypt 0 / skip 0 means every
//!   whole block), AES-128-CBC from the first byte of each sample with the
//!   constant IV, restarting at every sample; the last `len % 16` bytes stay
//!   clear.
//!
//! IVs are derived, never random, so a rerun is byte-identical:
//! * cenc: `base(kid) + (rendition << 48 | sample)` modulo 2^64, where
//!   `base` comes from SHA-256 over the key ID. Addition modulo 2^64 is a
//!   bijection, so distinct (rendition, sample) pairs, up to 65 536
//!   renditions of 2^48 samples each, never share an IV under one key.
//! * cbcs: the key's IV when the key source gives one, else SHA-256 over
//!   the key ID and the rendition's name (a constant IV per track is what
//!   cbcs specifies).

use aes::Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use sha2::{Digest, Sha256};

use crate::{ContentKey, Scheme};

const BLOCK: usize = 16;

/// Encrypts the samples of one track (one rendition) in order.
pub struct SampleEncryptor {
    scheme: Scheme,
    aes: Aes128,
    /// cenc: the IV of the next sample.
    next_iv: u64,
    /// cbcs: the constant IV.
    constant_iv: [u8; 16],
}

impl std::fmt::Debug for SampleEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleEncryptor")
            .field("scheme", &self.scheme)
            .field("key", &"***")
            .finish()
    }
}

impl SampleEncryptor {
    /// The encryptor for rendition number `rendition` (its index in the
    /// package, unique per key) named `rendition_name`.
    pub fn new(scheme: Scheme, key: &ContentKey, rendition: u16, rendition_name: &str) -> Self {
        let aes = Aes128::new(&Array::from(*key.secret()));
        let kid_hash = Sha256::new()
            .chain_update(b"audiopack cenc iv\0")
            .chain_update(key.kid.0)
            .finalize();
        let mut base = [0u8; 8];
        base.copy_from_slice(&kid_hash[..8]);
        let next_iv = u64::from_be_bytes(base).wrapping_add(u64::from(rendition) << 48);
        let constant_iv = key.iv.unwrap_or_else(|| {
            let h = Sha256::new()
                .chain_update(b"audiopack cbcs iv\0")
                .chain_update(key.kid.0)
                .chain_update(rendition_name.as_bytes())
                .finalize();
            let mut iv = [0u8; 16];
            iv.copy_from_slice(&h[..16]);
            iv
        });
        SampleEncryptor {
            scheme,
            aes,
            next_iv,
            constant_iv,
        }
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// cbcs: the constant IV (for `tenc`); cenc: none.
    pub fn constant_iv(&self) -> Option<[u8; 16]> {
        (self.scheme == Scheme::Cbcs).then_some(self.constant_iv)
    }

    /// Bytes of per-sample IV in `senc` (8 for cenc, 0 for cbcs).
    pub fn per_sample_iv_size(&self) -> u8 {
        match self.scheme {
            Scheme::Cenc => 8,
            Scheme::Cbcs => 0,
        }
    }

    /// Encrypts the next sample in place; returns its per-sample IV (cenc).
    pub fn encrypt(&mut self, sample: &mut [u8]) -> Option<[u8; 8]> {
        match self.scheme {
            Scheme::Cenc => {
                let iv = self.next_iv.to_be_bytes();
                self.next_iv = self.next_iv.wrapping_add(1);
                let mut counter = [0u8; 16];
                counter[..8].copy_from_slice(&iv);
                ctr_apply(&self.aes, counter, sample);
                Some(iv)
            }
            Scheme::Cbcs => {
                cbc_encrypt_whole_blocks(&self.aes, &self.constant_iv, sample);
                None
            }
        }
    }
}

/// XORs `data` with the AES-CTR key stream starting at `counter`, the low
/// 64 bits incrementing (big-endian) per block.
pub fn ctr_apply(aes: &Aes128, counter: [u8; 16], data: &mut [u8]) {
    let mut high = [0u8; 8];
    high.copy_from_slice(&counter[..8]);
    let mut low = u64::from_be_bytes([
        counter[8],
        counter[9],
        counter[10],
        counter[11],
        counter[12],
        counter[13],
        counter[14],
        counter[15],
    ]);
    // Key stream in batches of up to 32 blocks (AES-NI pipelines them).
    let mut stream = [Array::<u8, _>::default(); 32];
    for chunk in data.chunks_mut(32 * BLOCK) {
        let blocks = chunk.len().div_ceil(BLOCK);
        for block in stream.iter_mut().take(blocks) {
            block[..8].copy_from_slice(&high);
            block[8..].copy_from_slice(&low.to_be_bytes());
            low = low.wrapping_add(1);
        }
        aes.encrypt_blocks(&mut stream[..blocks]);
        for (bytes, block) in chunk.chunks_mut(BLOCK).zip(stream.iter()) {
            for (b, k) in bytes.iter_mut().zip(block.iter()) {
                *b ^= k;
            }
        }
    }
}

/// AES-CBC over the whole 16-byte blocks of `data`; a tail shorter than a
/// block stays clear.
pub fn cbc_encrypt_whole_blocks(aes: &Aes128, iv: &[u8; 16], data: &mut [u8]) {
    let mut chain = Array::from(*iv);
    for block in data.chunks_exact_mut(BLOCK) {
        for (c, b) in chain.iter_mut().zip(block.iter()) {
            *c ^= b;
        }
        aes.encrypt_block(&mut chain);
        block.copy_from_slice(&chain);
    }
}

/// The inverse of [`cbc_encrypt_whole_blocks`] (tests and verification).
pub fn cbc_decrypt_whole_blocks(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
    use aes::cipher::BlockCipherDecrypt;
    let aes = Aes128::new(&Array::from(*key));
    let mut chain = *iv;
    for block in data.chunks_exact_mut(BLOCK) {
        let mut cipher_block = [0u8; 16];
        cipher_block.copy_from_slice(block);
        let mut plain = Array::from(cipher_block);
        aes.decrypt_block(&mut plain);
        for ((b, p), c) in block.iter_mut().zip(plain.iter()).zip(chain.iter()) {
            *b = p ^ c;
        }
        chain = cipher_block;
    }
}

/// An AES-128 instance for `key` (tests and verification).
pub fn aes128(key: &[u8; 16]) -> Aes128 {
    Aes128::new(&Array::from(*key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kid;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
            .collect()
    }

    const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

    fn key16() -> [u8; 16] {
        hex(KEY).try_into().expect("16 bytes")
    }

    #[test]
    fn cbc_matches_nist_sp800_38a_f2_1() {
        let iv: [u8; 16] = hex("000102030405060708090a0b0c0d0e0f")
            .try_into()
            .expect("16");
        let mut data = hex(PLAIN);
        cbc_encrypt_whole_blocks(&aes128(&key16()), &iv, &mut data);
        assert_eq!(
            data,
            hex(
                "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"
            )
        );
        cbc_decrypt_whole_blocks(&key16(), &iv, &mut data);
        assert_eq!(data, hex(PLAIN));
    }

    #[test]
    fn ctr_matches_nist_sp800_38a_f5_1() {
        let counter: [u8; 16] = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
            .try_into()
            .expect("16");
        let mut data = hex(PLAIN);
        ctr_apply(&aes128(&key16()), counter, &mut data);
        assert_eq!(
            data,
            hex(
                "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"
            )
        );
    }

    #[test]
    fn cbcs_leaves_the_partial_tail_clear() {
        let key = ContentKey::new(Kid([7; 16]), key16(), None);
        let mut enc = SampleEncryptor::new(Scheme::Cbcs, &key, 0, "opus_64k");
        let plain: Vec<u8> = (0..37u8).collect();
        let mut sample = plain.clone();
        assert_eq!(enc.encrypt(&mut sample), None);
        assert_ne!(sample[..32], plain[..32]);
        assert_eq!(sample[32..], plain[32..]);
        let iv = enc.constant_iv().expect("cbcs has a constant IV");
        cbc_decrypt_whole_blocks(&key16(), &iv, &mut sample);
        assert_eq!(sample, plain);
        // A sample shorter than a block is left entirely clear.
        let mut short = vec![9u8; 15];
        enc.encrypt(&mut short);
        assert_eq!(short, vec![9u8; 15]);
    }

    #[test]
    fn cenc_ivs_are_distinct_across_renditions_and_samples_and_reproducible() {
        let key = ContentKey::new(Kid([7; 16]), key16(), None);
        let mut seen = std::collections::HashSet::new();
        for rendition in 0..4u16 {
            let mut a = SampleEncryptor::new(Scheme::Cenc, &key, rendition, "x");
            let mut b = SampleEncryptor::new(Scheme::Cenc, &key, rendition, "x");
            for _ in 0..1000 {
                let mut s1 = vec![1u8; 40];
                let mut s2 = vec![1u8; 40];
                let iv = a.encrypt(&mut s1).expect("cenc has per-sample IVs");
                assert_eq!(Some(iv), b.encrypt(&mut s2));
                assert_eq!(s1, s2);
                assert!(seen.insert(iv), "IV repeated");
            }
        }
    }

    #[test]
    fn cenc_decrypts_with_the_same_counter() {
        let key = ContentKey::new(Kid([3; 16]), key16(), None);
        let mut enc = SampleEncryptor::new(Scheme::Cenc, &key, 1, "flac");
        let plain: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut sample = plain.clone();
        let iv = enc.encrypt(&mut sample).expect("iv");
        assert_ne!(sample, plain);
        let mut counter = [0u8; 16];
        counter[..8].copy_from_slice(&iv);
        ctr_apply(&aes128(&key16()), counter, &mut sample);
        assert_eq!(sample, plain);
    }
}
