//! Checking the server certificate against `sslrootcert` (verify-ca /
//! verify-full), and saying in words why a certificate was refused.
//!
//! webpki does the full check (chain to a root, validity dates, key usage,
//! names). One case it refuses and libpq (OpenSSL) accepts: a self-signed
//! server certificate that is its own CA (`basicConstraints CA:TRUE`, what
//! `openssl req -x509` makes by default) given as its own root, the usual
//! setup of a self-hosted server (`sslrootcert=server.crt`). webpki rejects
//! it as "CA used as end entity". [`RootVerifier`] accepts exactly that case
//! when the server's certificate is byte-identical to a certificate in
//! `sslrootcert`: webpki checks the validity dates before the CA flag, so such
//! a certificate has already passed the date check, and with verify-full its
//! names are still checked against the host. Everything else keeps webpki's
//! verdict.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// verify-ca (`check_name == false`) and verify-full.
#[derive(Debug)]
pub(crate) struct RootVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    /// The certificates of `sslrootcert`, for the self-signed case.
    pinned: Vec<CertificateDer<'static>>,
    check_name: bool,
}

impl RootVerifier {
    pub(crate) fn new(
        webpki: Arc<WebPkiServerVerifier>,
        pinned: Vec<CertificateDer<'static>>,
        check_name: bool,
    ) -> Self {
        RootVerifier { webpki, pinned, check_name }
    }
}

/// The webpki error inside rustls's catch-all variant, if that is what it is.
pub(crate) fn webpki_error(e: &CertificateError) -> Option<&webpki::Error> {
    match e {
        CertificateError::Other(other) => other.0.downcast_ref::<webpki::Error>(),
        _ => None,
    }
}

fn is_name_error(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

impl ServerCertVerifier for RootVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let err = match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Ok(ok) => return Ok(ok),
            // webpki checks the chain before the name, so a name error means the
            // chain was good; verify-ca does not care about the name.
            Err(e) if !self.check_name && is_name_error(&e) => return Ok(ServerCertVerified::assertion()),
            Err(e) => e,
        };
        let ca_as_end_entity = matches!(
            &err,
            rustls::Error::InvalidCertificate(c) if matches!(webpki_error(c), Some(webpki::Error::CaUsedAsEndEntity))
        );
        if ca_as_end_entity && self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) {
            if self.check_name {
                rustls::client::verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
            }
            return Ok(ServerCertVerified::assertion());
        }
        Err(err)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// What to tell the user about a refused server certificate. `host` is the
/// host name asked for, `mode` the sslmode, `roots` where the roots came from.
pub(crate) fn describe(e: &CertificateError, host: &str, mode: &str, roots: &str) -> String {
    match e {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => format!(
            "server certificate is not valid for host \"{host}\" (sslmode={mode}); connect with a host \
             name in the certificate or use sslmode=verify-ca"
        ),
        CertificateError::UnknownIssuer => format!(
            "certificate signed by an unknown authority ({roots}); set sslrootcert to the CA that issued \
             the server certificate (or, for a self-signed server certificate, to that certificate)"
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("the server certificate has expired (sslmode={mode})")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("the server certificate is not valid yet; check the clock (sslmode={mode})")
        }
        CertificateError::BadSignature => {
            format!("the server certificate's signature does not verify with its issuer's key (sslmode={mode})")
        }
        CertificateError::BadEncoding => format!("the server certificate is malformed (sslmode={mode})"),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => format!(
            "the server certificate is not for TLS servers (its extendedKeyUsage lacks serverAuth) (sslmode={mode})"
        ),
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => format!(
            "the server certificate is signed with an algorithm edgepg does not support (sslmode={mode}); \
             RSA (PKCS#1 v1.5 or PSS with SHA-256/384/512), ECDSA P-256/P-384 and Ed25519 are supported"
        ),
        CertificateError::UnhandledCriticalExtension => {
            format!("the server certificate has a critical extension edgepg does not understand (sslmode={mode})")
        }
        other => match webpki_error(other) {
            Some(webpki::Error::CaUsedAsEndEntity) => format!(
                "the server presented a CA certificate as its own certificate (sslmode={mode}), and that \
                 certificate is not in {roots}; for a self-signed server certificate, set sslrootcert to the \
                 server's certificate itself"
            ),
            Some(webpki::Error::EndEntityUsedAsCa) => {
                format!("the server certificate chain uses a non-CA certificate as an issuer (sslmode={mode})")
            }
            Some(webpki::Error::UnsupportedCertVersion) => format!(
                "the server certificate is an X.509 v1 certificate, which edgepg does not accept \
                 (sslmode={mode}); issue a v3 certificate"
            ),
            Some(webpki::Error::PathLenConstraintViolated | webpki::Error::MaximumPathDepthExceeded) => {
                format!("the server certificate chain is too long for its CAs' constraints (sslmode={mode})")
            }
            Some(webpki::Error::NameConstraintViolation) => {
                format!("the server certificate violates its CA's name constraints (sslmode={mode})")
            }
            Some(w) => format!(
                "the server certificate was rejected (sslmode={mode}): it is malformed or uses an unsupported \
                 feature ({})",
                plain_name(&format!("{w:?}"))
            ),
            None => {
                format!("the server certificate was rejected (sslmode={mode}): {}", plain_name(&format!("{other:?}")))
            }
        },
    }
}

/// A variant name such as `MissingOrMalformedExtensions` as words
/// ("missing or malformed extensions"), without any payload.
fn plain_name(debug: &str) -> String {
    let name = debug.split(|c: char| !c.is_alphanumeric()).next().unwrap_or(debug);
    let mut out = String::with_capacity(name.len() + 8);
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other(e: webpki::Error) -> CertificateError {
        CertificateError::Other(rustls::OtherError(Arc::new(e)))
    }

    #[test]
    fn messages_are_words_not_debug_dumps() {
        let cases = [
            (other(webpki::Error::CaUsedAsEndEntity), "presented a CA certificate as its own"),
            (other(webpki::Error::UnsupportedCertVersion), "X.509 v1"),
            (other(webpki::Error::MalformedExtensions), "(malformed extensions)"),
            (CertificateError::UnknownIssuer, "unknown authority (sslrootcert=/r.crt)"),
            (CertificateError::Expired, "has expired"),
            (CertificateError::NotValidForName, "not valid for host \"h\""),
            (CertificateError::InvalidPurpose, "serverAuth"),
            (CertificateError::UnhandledCriticalExtension, "critical extension"),
            (CertificateError::Revoked, "rejected (sslmode=verify-full): revoked"),
        ];
        for (e, needle) in cases {
            let m = describe(&e, "h", "verify-full", "sslrootcert=/r.crt");
            assert!(m.contains(needle), "{e:?}: {m}");
            assert!(!m.contains("Other(") && !m.contains("OtherError"), "{m}");
        }
    }

    #[test]
    fn plain_names() {
        assert_eq!(plain_name("CaUsedAsEndEntity"), "ca used as end entity");
        assert_eq!(plain_name("TrailingData(Foo)"), "trailing data");
        assert_eq!(plain_name("Revoked"), "revoked");
    }
}
