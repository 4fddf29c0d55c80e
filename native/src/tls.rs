//! TLS for the native transport: rustls (ring provider) over any tokio stream.
//!
//! This module only performs the handshake on an already-connected stream;
//! the connector decides whether to use TLS at all (`sslmode`), sends the
//! `SSLRequest` first unless `sslnegotiation=direct`, and maps `sslmode` to a
//! [`Verification`]:
//!
//! | sslmode                         | Verification |
//! |---------------------------------|--------------|
//! | `allow`, `prefer`, `require`    | [`Verification::None`] |
//! | `require` with `sslrootcert` set (libpq treats it as `verify-ca`) | [`Verification::Chain`] |
//! | `verify-ca`                     | [`Verification::Chain`] |
//! | `verify-full`                   | [`Verification::Full`] |
//!
//! Trust anchors for `Chain`/`Full`: the PEM file named by `sslrootcert`
//! (it may hold several certificates), the operating system's store for
//! `sslrootcert=system`, and when `sslrootcert` is unset, libpq's default file
//! `~/.postgresql/root.crt` (`%APPDATA%\postgresql\root.crt` on Windows) if it
//! exists and the system store otherwise. (libpq fails when that file is
//! missing; falling back to the system store makes `verify-full` work out of the
//! box with hosted databases whose certificates chain to public CAs.) The
//! system store is loaded once per process; `sslrootcert` files are read on
//! every handshake so that rotated CA files are picked up.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use edgepg_core::{Error, ErrorKind};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The ALPN protocol name PostgreSQL 17+ requires for direct TLS.
const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// How much of the server certificate to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Verification {
    /// Accept any certificate (the TLS handshake signatures are still
    /// verified, so the session is bound to the certificate's key, which is what
    /// makes SCRAM channel binding meaningful). No protection against an active
    /// man in the middle unless channel binding is used.
    None,
    /// The certificate must chain to a trusted root; the host name is not
    /// checked (`sslmode=verify-ca`).
    Chain,
    /// The certificate must chain to a trusted root and be valid for the host
    /// name or IP address (`sslmode=verify-full`).
    Full,
}

impl Verification {
    fn sslmode(self) -> &'static str {
        match self {
            Verification::None => "require",
            Verification::Chain => "verify-ca",
            Verification::Full => "verify-full",
        }
    }
}

/// What the handshake needs to know.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TlsOptions<'a> {
    /// How to check the server certificate.
    pub verify: Verification,
    /// `sslrootcert`: a PEM file path, or `"system"` for the OS store. Ignored
    /// with [`Verification::None`].
    pub root_cert: Option<&'a str>,
    /// The host name or IP literal the user asked for (sent as SNI when it is a
    /// name, and checked against the certificate with [`Verification::Full`]).
    pub server_name: &'a str,
    /// `sslnegotiation=direct`: offer ALPN `postgresql` and require the server
    /// to select it.
    pub direct: bool,
}

/// Performs the TLS handshake on a connected stream.
///
/// Returns the TLS stream and the `tls-server-end-point` channel-binding hash
/// of the server's end-entity certificate. The hash is `None` when it cannot
/// be computed (an EdDSA or unknown signature algorithm, see
/// [`edgepg_core::auth::tls_server_end_point`]); SCRAM must then use the `n,,`
/// GS2 header (`ChannelBinding::unrequested()`), or fail if channel binding is
/// required.
pub(crate) async fn handshake<S>(stream: S, opts: &TlsOptions<'_>) -> Result<(TlsStream<S>, Option<Vec<u8>>), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let server_name = server_name(opts.server_name)?;
    let (config, roots) = client_config(opts)?;
    let connector = TlsConnector::from(Arc::new(config));
    let tls = connector.connect(server_name, stream).await.map_err(|e| handshake_error(e, opts, &roots))?;

    let conn = tls.get_ref().1;
    if opts.direct && conn.alpn_protocol() != Some(ALPN_POSTGRESQL) {
        return Err(tls_error(
            "the server did not select the ALPN protocol \"postgresql\" for direct TLS \
             (sslnegotiation=direct needs PostgreSQL 17 or later); use sslnegotiation=postgres",
        ));
    }
    let channel_binding = conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|cert| edgepg_core::auth::tls_server_end_point(cert).ok());
    Ok((tls, channel_binding))
}

/// The server name for SNI and verification; IP literals (with or without
/// brackets) become IP addresses, which rustls never sends as SNI.
fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    ServerName::try_from(bare.to_owned())
        .map_err(|_| tls_error(format!("\"{host}\" is not a valid host name or IP address for TLS")))
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}

/// Builds the client configuration for `opts` and says where its roots came from.
fn client_config(opts: &TlsOptions<'_>) -> Result<(ClientConfig, RootSource), Error> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(format!("cannot configure TLS: {e}")))?;
    let (builder, source) = match opts.verify {
        Verification::None => {
            let verifier = AcceptAnyCertificate { algorithms: provider.signature_verification_algorithms };
            (builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier)), RootSource::None)
        }
        Verification::Chain | Verification::Full => {
            let (roots, source) = load_roots(opts.root_cert)?;
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| tls_error(format!("cannot use the root certificates ({source}): {e}")))?;
            let builder = if opts.verify == Verification::Full {
                builder.with_webpki_verifier(webpki)
            } else {
                builder.dangerous().with_custom_certificate_verifier(Arc::new(IgnoreHostName(webpki)))
            };
            (builder, source)
        }
    };
    let mut config = builder.with_no_client_auth();
    if opts.direct {
        config.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
    }
    Ok((config, source))
}

/// Where the trust anchors came from, for error messages.
#[derive(Debug, Clone)]
enum RootSource {
    None,
    File(PathBuf),
    System,
}

impl fmt::Display for RootSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootSource::None => f.write_str("no root certificates"),
            RootSource::File(p) => write!(f, "sslrootcert={}", p.display()),
            RootSource::System => f.write_str("sslrootcert=system"),
        }
    }
}

fn load_roots(root_cert: Option<&str>) -> Result<(Arc<RootCertStore>, RootSource), Error> {
    match root_cert {
        Some("system") => Ok((system_roots()?, RootSource::System)),
        Some(path) => Ok((Arc::new(roots_from_file(Path::new(path))?), RootSource::File(path.into()))),
        None => match default_root_file().filter(|p| p.is_file()) {
            Some(path) => Ok((Arc::new(roots_from_file(&path)?), RootSource::File(path))),
            None => Ok((system_roots()?, RootSource::System)),
        },
    }
}

/// libpq's default `sslrootcert`.
fn default_root_file() -> Option<PathBuf> {
    if cfg!(windows) {
        std::env::var_os("APPDATA").map(|d| PathBuf::from(d).join("postgresql").join("root.crt"))
    } else {
        std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".postgresql").join("root.crt"))
    }
}

fn roots_from_file(path: &Path) -> Result<RootCertStore, Error> {
    let shown = path.display();
    let certs =
        CertificateDer::pem_file_iter(path).and_then(|it| it.collect::<Result<Vec<_>, _>>()).map_err(|e| match e {
            rustls::pki_types::pem::Error::Io(io) => tls_error(format!("cannot read sslrootcert \"{shown}\": {io}")),
            other => tls_error(format!("sslrootcert \"{shown}\" is not a valid PEM file: {other}")),
        })?;
    if certs.is_empty() {
        return Err(tls_error(format!("sslrootcert \"{shown}\" contains no PEM certificates")));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| tls_error(format!("sslrootcert \"{shown}\" contains an unusable certificate: {e}")))?;
    }
    Ok(roots)
}

/// The operating system's trust store, loaded once per process.
fn system_roots() -> Result<Arc<RootCertStore>, Error> {
    static SYSTEM: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    if let Some(roots) = SYSTEM.get() {
        return Ok(roots.clone());
    }
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found.errors.first().map(|e| format!(" ({e})")).unwrap_or_default();
        return Err(tls_error(format!(
            "no system root certificates found{why}; set sslrootcert to a CA certificate file"
        )));
    }
    // Not cached on failure, so a later call can succeed once the store exists.
    Ok(SYSTEM.get_or_init(|| Arc::new(roots)).clone())
}

/// Turns a failed handshake into an error that says what to do.
fn handshake_error(e: io::Error, opts: &TlsOptions<'_>, roots: &RootSource) -> Error {
    let host = opts.server_name;
    let mode = opts.verify.sslmode();
    let message: Cow<'static, str> = match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(cert_error)) => match cert_error {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => format!(
                "server certificate is not valid for host \"{host}\" (sslmode={mode}); connect with a host \
                 name in the certificate or use sslmode=verify-ca"
            )
            .into(),
            CertificateError::UnknownIssuer => format!(
                "certificate signed by an unknown authority ({roots}); set sslrootcert to the CA that issued \
                 the server certificate"
            )
            .into(),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("the server certificate has expired (sslmode={mode})").into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("the server certificate is not valid yet; check the clock (sslmode={mode})").into()
            }
            other => format!("the server certificate was rejected (sslmode={mode}): {other:?}").into(),
        },
        Some(other) => format!("TLS handshake with \"{host}\" failed: {other}").into(),
        None if e.kind() == io::ErrorKind::UnexpectedEof => {
            format!("the server \"{host}\" closed the connection during the TLS handshake").into()
        }
        None => format!("TLS handshake with \"{host}\" failed: {e}").into(),
    };
    tls_error(message).with_source(e)
}

fn tls_error(message: impl Into<Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::Tls, message)
}

/// [`Verification::None`]: any certificate, but genuine handshake signatures.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// [`Verification::Chain`]: the full webpki check, except that a certificate
/// that is not valid for the host name is accepted. webpki checks the chain
/// before the name, so a name error means the chain was good.
#[derive(Debug)]
struct IgnoreHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for IgnoreHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::PrivateKeyDer;
    use rustls::ServerConfig;
    use sha2::{Digest, Sha256};
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A CA, a server certificate it issued (for `localhost` and 127.0.0.1),
    /// and an unrelated second CA, all made by openssl in a temporary directory.
    struct Pki {
        dir: PathBuf,
    }

    impl Pki {
        fn path(&self, name: &str) -> String {
            self.dir.join(name).to_string_lossy().into_owned()
        }

        /// `None` (after printing why) when openssl is not installed.
        fn generate() -> Option<Pki> {
            if Command::new("openssl").arg("version").output().is_err() {
                eprintln!("NOTE: openssl not found; skipping TLS test");
                return None;
            }
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "edgepg-tls-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let pki = Pki { dir };
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
            for ca in ["ca", "other_ca"] {
                let key = pki.path(&format!("{ca}.key"));
                let crt = pki.path(&format!("{ca}.crt"));
                let subj = format!("/CN=edgepg test {ca}");
                pki.openssl(
                    &[&["req", "-x509"][..], &ec, &["-keyout", &key, "-out", &crt, "-subj", &subj, "-days", "2"]]
                        .concat(),
                );
            }
            let (key, csr) = (pki.path("server.key"), pki.path("server.csr"));
            pki.openssl(&[&["req"][..], &ec, &["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"]].concat());
            let ext = pki.path("server.ext");
            std::fs::write(
                &ext,
                "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
                 keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
            )
            .unwrap();
            let (ca_crt, ca_key, crt) = (pki.path("ca.crt"), pki.path("ca.key"), pki.path("server.crt"));
            pki.openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_crt,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-sha256",
                "-extfile",
                &ext,
            ]);
            Some(pki)
        }

        fn openssl(&self, args: &[&str]) {
            let out = Command::new("openssl").args(args).current_dir(&self.dir).output().unwrap();
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }

        fn server_cert_der(&self) -> CertificateDer<'static> {
            CertificateDer::from_pem_file(self.path("server.crt")).unwrap()
        }

        fn server_config(&self, alpn: bool) -> Arc<ServerConfig> {
            let key = PrivateKeyDer::from_pem_file(self.path("server.key")).unwrap();
            let mut config = ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![self.server_cert_der()], key)
                .unwrap();
            if alpn {
                config.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
            }
            Arc::new(config)
        }
    }

    impl Drop for Pki {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Runs a TLS server on one end of an in-memory pipe and our handshake on
    /// the other; on success, checks that data flows both ways.
    async fn connect(pki: &Pki, server_alpn: bool, opts: TlsOptions<'_>) -> Result<Option<Vec<u8>>, Error> {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config(server_alpn));
        let server = tokio::spawn(async move {
            let mut tls = acceptor.accept(server_io).await.ok()?;
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).await.ok()?;
            tls.write_all(b"pong").await.ok()?;
            tls.flush().await.ok()?;
            Some(buf)
        });
        let (mut tls, hash) = handshake(client_io, &opts).await?;
        tls.write_all(b"ping").await.unwrap();
        tls.flush().await.unwrap();
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        assert_eq!(server.await.unwrap(), Some(*b"ping"));
        Ok(hash)
    }

    fn opts<'a>(verify: Verification, root_cert: Option<&'a str>, server_name: &'a str) -> TlsOptions<'a> {
        TlsOptions { verify, root_cert, server_name, direct: false }
    }

    #[tokio::test]
    async fn verify_full_accepts_the_right_name_and_ip() {
        let Some(pki) = Pki::generate() else { return };
        let ca = pki.path("ca.crt");
        connect(&pki, false, opts(Verification::Full, Some(&ca), "localhost")).await.unwrap();
        connect(&pki, false, opts(Verification::Full, Some(&ca), "127.0.0.1")).await.unwrap();
    }

    #[tokio::test]
    async fn verify_full_rejects_a_wrong_name() {
        let Some(pki) = Pki::generate() else { return };
        let ca = pki.path("ca.crt");
        for host in ["db.example.com", "127.0.0.2", "::1"] {
            let e = connect(&pki, false, opts(Verification::Full, Some(&ca), host)).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Tls);
            assert!(e.message().contains(&format!("not valid for host \"{host}\"")), "{e}");
            assert!(e.message().contains("sslmode=verify-ca"), "{e}");
        }
    }

    #[tokio::test]
    async fn verify_ca_ignores_the_name() {
        let Some(pki) = Pki::generate() else { return };
        let ca = pki.path("ca.crt");
        connect(&pki, false, opts(Verification::Chain, Some(&ca), "db.example.com")).await.unwrap();
        connect(&pki, false, opts(Verification::Chain, Some(&ca), "127.0.0.2")).await.unwrap();
    }

    #[tokio::test]
    async fn wrong_ca_is_rejected() {
        let Some(pki) = Pki::generate() else { return };
        let other = pki.path("other_ca.crt");
        for verify in [Verification::Chain, Verification::Full] {
            let e = connect(&pki, false, opts(verify, Some(&other), "localhost")).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Tls);
            assert!(e.message().contains("unknown authority"), "{e}");
            assert!(e.message().contains(&format!("sslrootcert={other}")), "{e}");
        }
    }

    #[tokio::test]
    async fn root_file_with_several_certificates() {
        let Some(pki) = Pki::generate() else { return };
        let bundle = pki.path("bundle.crt");
        let mut pem = std::fs::read(pki.path("other_ca.crt")).unwrap();
        pem.extend(std::fs::read(pki.path("ca.crt")).unwrap());
        std::fs::write(&bundle, pem).unwrap();
        connect(&pki, false, opts(Verification::Full, Some(&bundle), "localhost")).await.unwrap();
    }

    #[tokio::test]
    async fn no_verification_accepts_any_certificate() {
        let Some(pki) = Pki::generate() else { return };
        // Wrong name, wrong CA (ignored), still fine.
        let other = pki.path("other_ca.crt");
        connect(&pki, false, opts(Verification::None, Some(&other), "db.example.com")).await.unwrap();
        connect(&pki, false, opts(Verification::None, None, "127.0.0.2")).await.unwrap();
    }

    #[tokio::test]
    async fn channel_binding_hash_is_sha256_of_the_certificate() {
        let Some(pki) = Pki::generate() else { return };
        let ca = pki.path("ca.crt");
        let hash = connect(&pki, false, opts(Verification::Full, Some(&ca), "localhost")).await.unwrap();
        let expected = Sha256::digest(pki.server_cert_der().as_ref()).to_vec();
        assert_eq!(hash, Some(expected));
    }

    #[tokio::test]
    async fn missing_and_bad_root_files() {
        let Some(pki) = Pki::generate() else { return };
        let missing = pki.path("nope.crt");
        let e = connect(&pki, false, opts(Verification::Full, Some(&missing), "localhost")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.message().starts_with(&format!("cannot read sslrootcert \"{missing}\"")), "{e}");

        let empty = pki.path("empty.crt");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = connect(&pki, false, opts(Verification::Chain, Some(&empty), "localhost")).await.unwrap_err();
        assert!(e.message().contains("contains no PEM certificates"), "{e}");
    }

    #[tokio::test]
    async fn direct_tls_requires_alpn() {
        let Some(pki) = Pki::generate() else { return };
        let ca = pki.path("ca.crt");
        let direct = TlsOptions { direct: true, ..opts(Verification::Full, Some(&ca), "localhost") };
        connect(&pki, true, direct).await.unwrap();

        // A server that ignores ALPN (PostgreSQL < 17 behind direct TLS): refused
        // after the handshake, before any PostgreSQL bytes are sent.
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config(false));
        let server = tokio::spawn(async move { acceptor.accept(server_io).await.map(|_| ()) });
        let e = handshake(client_io, &direct).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.message().contains("ALPN"), "{e}");
        let _ = server.await;
    }

    #[tokio::test]
    async fn invalid_server_name() {
        let e = handshake(tokio::io::empty(), &opts(Verification::None, None, "bad host")).await;
        let Err(e) = e else { panic!("expected an error") };
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.message().contains("\"bad host\""), "{e}");
    }

    #[tokio::test]
    async fn server_that_hangs_up_gives_a_tls_error() {
        let (client_io, server_io) = tokio::io::duplex(1024);
        drop(server_io);
        let Err(e) = handshake(client_io, &opts(Verification::None, None, "localhost")).await else {
            panic!("expected an error")
        };
        assert_eq!(e.kind(), ErrorKind::Tls);
    }

    #[test]
    fn bracketed_ipv6_is_an_ip_address() {
        assert!(matches!(server_name("[::1]").unwrap(), ServerName::IpAddress(_)));
        assert!(matches!(server_name("localhost").unwrap(), ServerName::DnsName(_)));
    }
}
