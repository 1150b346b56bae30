//! [`TestTls`]: TLS for a test server on 127.0.0.1, with a certificate
//! authority made for the run, so a client is tested against a real chain
//! (CA → server certificate) that it trusts only when told to.
//!
//! Both certificates are ECDSA P-256 (rcgen), valid from now on; the server
//! certificate names `127.0.0.1` and `localhost` and is for server
//! authentication. TLS 1.2 and 1.3 through rustls with aws-lc-rs (the
//! provider the clients under test use), ALPN `http/1.1`.

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A CA made now and an acceptor presenting a server certificate it signed.
pub struct TestTls {
    /// The CA's certificate (PEM): what a client must trust, e.g. through
    /// `SSL_CERT_FILE`.
    pub ca_pem: String,
    /// Accepts TLS connections with the server certificate and the CA's
    /// (the chain a client checks).
    pub acceptor: TlsAcceptor,
}

impl TestTls {
    /// Makes the CA, the server certificate and the acceptor.
    ///
    /// # Errors
    ///
    /// When a key or certificate cannot be made, or rustls refuses them.
    pub fn new() -> io::Result<TestTls> {
        Self::make().map_err(io::Error::other)
    }

    fn make() -> Result<TestTls, Box<dyn std::error::Error + Send + Sync>> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "audiopack-testkit CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let server_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "audiopack-testkit server");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let certificate = params.signed_by(&server_key, &ca)?;

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![certificate.der().clone(), ca.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            )?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TestTls {
            ca_pem: ca.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}
