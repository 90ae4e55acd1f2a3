//! TLS for every HTTPS request ferry makes (S3, and STS, SSO and the container endpoint for
//! credentials): rustls with ring, the system's roots or a CA bundle, or no verification.

use std::sync::Arc;

use crate::error::{ClientErrorKind, Result, S3Error};

/// Builds the rustls configuration: ring as the crypto provider (no C toolchain needed), the
/// system's roots or the configured CA bundle instead, HTTP/1.1 only in ALPN; or, with
/// verification off, a verifier that accepts any certificate (signatures still checked).
pub(crate) fn tls_config(
    https: bool,
    ca_bundle_pem: Option<&[u8]>,
    verify: bool,
) -> Result<rustls::ClientConfig> {
    let tls_err = |m: String| S3Error::client("client", ClientErrorKind::Tls, m);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?;
    let mut tls = if !https {
        // No request of this client is ever https: loading and parsing the system's roots or
        // a CA bundle (AWS_CA_BUNDLE) would only cost each process its start-up time.
        builder
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    } else if verify {
        let mut roots = rustls::RootCertStore::empty();
        match ca_bundle_pem {
            Some(pem) => {
                for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(pem) {
                    let cert: rustls::pki_types::CertificateDer<'static> =
                        cert.map_err(|e| tls_err(format!("cannot read the CA bundle: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| tls_err(format!("cannot use a CA bundle certificate: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(tls_err("the CA bundle holds no PEM certificate".into()));
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    // A broken system certificate is skipped, as browsers do.
                    let _ = roots.add(cert);
                }
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// `--no-verify-ssl`: accepts any certificate, still checking the handshake signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
