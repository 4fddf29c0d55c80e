//! TLS for the native transport: rustls (ring provider) over any tokio stream.
//!
//! This module builds the TLS client configuration ([`prepare`], before any
//! connection is opened, so bad certificate or key files fail without network
//! traffic) and performs the handshake on an already-connected stream
//! ([`handshake`]); the connector decides whether to use TLS at all
//! (`sslmode`), sends the `SSLRequest` first unless `sslnegotiation=direct`,
//! and maps `sslmode` to a [`Verification`]:
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
//! every connection so that rotated CA files are picked up. A server
//! certificate byte-identical to one in the `sslrootcert` file is accepted even
//! when it is a CA certificate (a self-signed server certificate given as its
//! own root), as libpq does; see [`verify`].
//!
//! Client certificates (`sslcert`, `sslkey`, `sslpassword`, libpq's default
//! files) are read by [`client_cert`].

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
use rustls::{AlertDescription, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

pub(crate) mod client_cert;
pub(crate) mod verify;

pub(crate) use client_cert::ClientCertOptions;

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
    /// The certificate must chain to a trusted root (or be one of the
    /// `sslrootcert` certificates itself); the host name is not checked
    /// (`sslmode=verify-ca`).
    Chain,
    /// As `Chain`, and the certificate must be valid for the host name or IP
    /// address (`sslmode=verify-full`).
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
    /// `sslcert`, `sslkey`, `sslpassword`.
    pub client_cert: ClientCertOptions<'a>,
}

/// A TLS client configuration ready for one server, built by [`prepare`].
pub(crate) struct Prepared {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    host: String,
    verify: Verification,
    direct: bool,
    roots: RootSource,
    /// The client certificate file sent, if any (for error messages).
    client_cert: Option<PathBuf>,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("host", &self.host)
            .field("verify", &self.verify)
            .field("roots", &self.roots)
            .field("client_cert", &self.client_cert)
            .finish_non_exhaustive()
    }
}

/// Reads the root and client certificate files and builds the client
/// configuration, without touching the network. Errors about client
/// certificate files are [`ErrorKind::Config`] (never retried on another host,
/// never a reason for `sslmode=prefer` to fall back to plain text); errors
/// about `sslrootcert` are [`ErrorKind::Tls`].
pub(crate) fn prepare(opts: &TlsOptions<'_>) -> Result<Prepared, Error> {
    let server_name = server_name(opts.server_name)?;
    let (config, roots, client_cert) = client_config(opts)?;
    Ok(Prepared {
        config: Arc::new(config),
        server_name,
        host: opts.server_name.to_owned(),
        verify: opts.verify,
        direct: opts.direct,
        roots,
        client_cert,
    })
}

/// Performs the TLS handshake on a connected stream.
///
/// Returns the TLS stream and the `tls-server-end-point` channel-binding hash
/// of the server's end-entity certificate. The hash is `None` when it cannot
/// be computed (an EdDSA or unknown signature algorithm, see
/// [`edgepg_core::auth::tls_server_end_point`]); SCRAM must then use the `n,,`
/// GS2 header (`ChannelBinding::unrequested()`), or fail if channel binding is
/// required.
pub(crate) async fn handshake<S>(stream: S, prepared: &Prepared) -> Result<(TlsStream<S>, Option<Vec<u8>>), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let connector = TlsConnector::from(prepared.config.clone());
    let tls =
        connector.connect(prepared.server_name.clone(), stream).await.map_err(|e| handshake_error(e, prepared))?;

    let conn = tls.get_ref().1;
    if prepared.direct && conn.alpn_protocol() != Some(ALPN_POSTGRESQL) {
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

/// Builds the client configuration for `opts`; says where its roots came from
/// and which client certificate file it sends.
fn client_config(opts: &TlsOptions<'_>) -> Result<(ClientConfig, RootSource, Option<PathBuf>), Error> {
    // The client certificate first: its errors are the user's to fix, whatever the server.
    let identity = client_cert::load(&opts.client_cert, libpq_dir().as_deref())?;
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
            let (roots, pinned, source) = load_roots(opts.root_cert)?;
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| tls_error(format!("cannot use the root certificates ({source}): {e}")))?;
            let verifier = verify::RootVerifier::new(webpki, pinned, opts.verify == Verification::Full);
            (builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier)), source)
        }
    };
    let (mut config, cert_file) = match identity {
        None => (builder.with_no_client_auth(), None),
        Some(id) => {
            let (cert_file, key_file) = (id.cert_file, id.key_file);
            let config = builder
                .with_client_auth_cert(id.chain, id.key)
                .map_err(|e| identity_error(&e, &cert_file, &key_file))?;
            (config, Some(cert_file))
        }
    };
    if opts.direct {
        config.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
    }
    Ok((config, source, cert_file))
}

/// A certificate and key that rustls refused to pair.
fn identity_error(e: &rustls::Error, cert_file: &Path, key_file: &Path) -> Error {
    let (cert, key) = (cert_file.display(), key_file.display());
    match e {
        rustls::Error::InconsistentKeys(_) => Error::config(
            "sslkey",
            format!("the private key \"{key}\" does not belong to the certificate \"{cert}\" (sslcert)"),
        ),
        // rustls's words for an unusable key ("failed to parse private key as RSA, ECDSA, or EdDSA").
        _ => Error::config(
            "sslkey",
            format!(
                "the private key \"{key}\" cannot be used: {e}; RSA (2048 bits or more), ECDSA P-256/P-384 and \
                 Ed25519 keys are supported"
            ),
        ),
    }
}

/// libpq's per-user directory: `~/.postgresql` (`%APPDATA%\postgresql` on Windows).
fn libpq_dir() -> Option<PathBuf> {
    if cfg!(windows) {
        std::env::var_os("APPDATA").map(|d| PathBuf::from(d).join("postgresql"))
    } else {
        std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".postgresql"))
    }
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

/// The roots, the certificates of a root file (for the self-signed case), and their source.
type Roots = (Arc<RootCertStore>, Vec<CertificateDer<'static>>, RootSource);

fn load_roots(root_cert: Option<&str>) -> Result<Roots, Error> {
    match root_cert {
        Some("system") => Ok((system_roots()?, Vec::new(), RootSource::System)),
        Some(path) => {
            let (roots, certs) = roots_from_file(Path::new(path))?;
            Ok((Arc::new(roots), certs, RootSource::File(path.into())))
        }
        None => match libpq_dir().map(|d| d.join("root.crt")).filter(|p| p.is_file()) {
            Some(path) => {
                let (roots, certs) = roots_from_file(&path)?;
                Ok((Arc::new(roots), certs, RootSource::File(path)))
            }
            None => Ok((system_roots()?, Vec::new(), RootSource::System)),
        },
    }
}

fn roots_from_file(path: &Path) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), Error> {
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
    for cert in &certs {
        roots
            .add(cert.clone())
            .map_err(|e| tls_error(format!("sslrootcert \"{shown}\" contains an unusable certificate: {e}")))?;
    }
    Ok((roots, certs))
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
fn handshake_error(e: io::Error, prepared: &Prepared) -> Error {
    let host = prepared.host.as_str();
    let mode = prepared.verify.sslmode();
    let message: Cow<'static, str> = match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(cert_error)) => {
            verify::describe(cert_error, host, mode, &prepared.roots.to_string()).into()
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            alert_message(*alert, host, prepared.client_cert.as_deref()).into()
        }
        Some(other) => format!("TLS handshake with \"{host}\" failed: {other}").into(),
        None if e.kind() == io::ErrorKind::UnexpectedEof => {
            format!("the server \"{host}\" closed the connection during the TLS handshake").into()
        }
        None => format!("TLS handshake with \"{host}\" failed: {e}").into(),
    };
    tls_error(message).with_source(e)
}

/// A read error on an established TLS stream. With TLS 1.3 the server checks
/// our client certificate after our side of the handshake is done, so its
/// verdict (a certificate alert) arrives with the first read: say what it means.
pub(crate) fn explain_read_error(e: io::Error) -> io::Error {
    let Some(rustls::Error::AlertReceived(alert)) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return e;
    };
    if !is_certificate_alert(*alert) {
        return e;
    }
    let message = format!(
        "the server rejected the client certificate (TLS alert {alert:?}); check sslcert/sslkey and that the \
         server trusts the certificate's issuer (ssl_ca_file)"
    );
    io::Error::new(e.kind(), message)
}

/// The alerts by which a server says it does not accept our certificate.
fn is_certificate_alert(alert: AlertDescription) -> bool {
    matches!(
        alert,
        AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateRequired
            | AlertDescription::AccessDenied
    )
}

/// A TLS alert from the server during the handshake. The certificate alerts
/// are about *our* certificate: the server checks it in the handshake.
fn alert_message(alert: AlertDescription, host: &str, client_cert: Option<&Path>) -> String {
    match (is_certificate_alert(alert), client_cert) {
        (true, Some(cert)) => format!(
            "the server \"{host}\" rejected the client certificate \"{}\" (sslcert) during the TLS handshake \
             (TLS alert: {alert:?}); check that it is issued by a CA the server trusts (ssl_ca_file) and still valid",
            cert.display()
        ),
        (true, None) => format!(
            "the server \"{host}\" requires a client certificate (TLS alert: {alert:?}); set sslcert and sslkey"
        ),
        (false, _) => format!("TLS handshake with \"{host}\" failed: the server sent the TLS alert {alert:?}"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::PrivateKeyDer;
    use rustls::{CertificateError, ServerConfig};
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

        /// A self-signed server certificate that is its own CA (`CA:TRUE`, as
        /// `openssl req -x509` makes them), for localhost: `selfsigned.crt`/`.key`.
        /// And one that is not a CA (`CA:FALSE`): `selfsigned-leaf.crt`/`.key`.
        fn self_signed(&self) {
            for (name, ca) in [("selfsigned", "CA:TRUE"), ("selfsigned-leaf", "CA:FALSE")] {
                let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
                let constraints = format!("basicConstraints=critical,{ca}");
                let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
                let rest = ["-keyout", key.as_str(), "-out", crt.as_str(), "-subj", "/CN=localhost", "-days", "2"];
                let ext = ["-addext", "subjectAltName=DNS:localhost", "-addext", constraints.as_str()];
                self.openssl(&[&["req", "-x509"][..], &ec, &rest, &ext].concat());
            }
        }

        /// Client certificates issued by the test CA (CN=alice), with keys in
        /// every supported form: `client.crt` + `client.key` (EC, PKCS#8),
        /// `client-sec1.key` (the same key as SEC1), `client-enc.key` (the same
        /// key, encrypted PKCS#8, passphrase `sekrit`), `client-rsa.crt` +
        /// `client-rsa.key` (RSA, PKCS#1), `client-legacy.key` (that RSA key
        /// with legacy OpenSSL encryption), and `client-other.crt` (a
        /// certificate from `other_ca` for `client.key`).
        fn client_material(&self) {
            let ext = self.path("client.ext");
            std::fs::write(&ext, "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n")
                .unwrap();
            let sign = |csr: &str, out: &str, ca: &str| {
                self.openssl(&[
                    "x509",
                    "-req",
                    "-in",
                    csr,
                    "-CA",
                    &format!("{ca}.crt"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-CAcreateserial",
                    "-out",
                    out,
                    "-days",
                    "2",
                    "-sha256",
                    "-extfile",
                    &ext,
                ]);
            };
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
            self.openssl(
                &[&["req"][..], &ec, &["-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=alice"]].concat(),
            );
            sign("client.csr", "client.crt", "ca");
            sign("client.csr", "client-other.crt", "other_ca");
            self.openssl(&["ec", "-in", "client.key", "-out", "client-sec1.key"]);
            self.openssl(&[
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-in",
                "client.key",
                "-out",
                "client-enc.key",
                "-passout",
                "pass:sekrit",
            ]);
            self.openssl(&["genrsa", "-traditional", "-out", "client-rsa.key", "2048"]);
            self.openssl(&["req", "-new", "-key", "client-rsa.key", "-out", "client-rsa.csr", "-subj", "/CN=alice"]);
            sign("client-rsa.csr", "client-rsa.crt", "ca");
            self.openssl(&[
                "rsa",
                "-in",
                "client-rsa.key",
                "-aes256",
                "-traditional",
                "-passout",
                "pass:sekrit",
                "-out",
                "client-legacy.key",
            ]);
            for key in ["client.key", "client-sec1.key", "client-enc.key", "client-rsa.key", "client-legacy.key"] {
                set_mode(&self.path(key), 0o600);
            }
        }

        fn openssl(&self, args: &[&str]) {
            let out = Command::new("openssl").args(args).current_dir(&self.dir).output().unwrap();
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }

        fn server_cert_der(&self) -> CertificateDer<'static> {
            CertificateDer::from_pem_file(self.path("server.crt")).unwrap()
        }

        fn server_config(&self, alpn: bool) -> Arc<ServerConfig> {
            self.server_config_with("server", None, alpn)
        }

        /// A server with certificate `name.crt`/`name.key`, asking for a client
        /// certificate issued by `client_ca` when given.
        fn server_config_with(&self, name: &str, client_ca: Option<&str>, alpn: bool) -> Arc<ServerConfig> {
            let key = PrivateKeyDer::from_pem_file(self.path(&format!("{name}.key"))).unwrap();
            let cert = CertificateDer::from_pem_file(self.path(&format!("{name}.crt"))).unwrap();
            let builder =
                ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().unwrap();
            let builder = match client_ca {
                None => builder.with_no_client_auth(),
                Some(ca) => {
                    let mut roots = RootCertStore::empty();
                    roots.add(CertificateDer::from_pem_file(self.path(ca)).unwrap()).unwrap();
                    let verifier =
                        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider())
                            .build()
                            .unwrap();
                    builder.with_client_cert_verifier(verifier)
                }
            };
            let mut config = builder.with_single_cert(vec![cert], key).unwrap();
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

    /// [`prepare`] + [`handshake`].
    async fn handshake_opts<S>(stream: S, opts: &TlsOptions<'_>) -> Result<(TlsStream<S>, Option<Vec<u8>>), Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        handshake(stream, &prepare(opts)?).await
    }

    /// Runs a TLS server on one end of an in-memory pipe and our handshake on
    /// the other; on success, checks that data flows both ways.
    async fn connect(pki: &Pki, server_alpn: bool, opts: TlsOptions<'_>) -> Result<Option<Vec<u8>>, Error> {
        connect_to(pki.server_config(server_alpn), opts).await.map(|(hash, _)| hash)
    }

    /// [`connect`] to a server with `config`; also says whether the server
    /// received a client certificate.
    async fn connect_to(config: Arc<ServerConfig>, opts: TlsOptions<'_>) -> Result<(Option<Vec<u8>>, bool), Error> {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let server = tokio::spawn(async move {
            let mut tls = acceptor.accept(server_io).await.ok()?;
            let client_cert = tls.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty());
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).await.ok()?;
            tls.write_all(b"pong").await.ok()?;
            tls.flush().await.ok()?;
            Some((buf, client_cert))
        });
        let (mut tls, hash) = handshake_opts(client_io, &opts).await?;
        tls.write_all(b"ping").await.unwrap();
        tls.flush().await.unwrap();
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        let (ping, client_cert) = server.await.unwrap().expect("the server side failed");
        assert_eq!(&ping, b"ping");
        Ok((hash, client_cert))
    }

    fn opts<'a>(verify: Verification, root_cert: Option<&'a str>, server_name: &'a str) -> TlsOptions<'a> {
        TlsOptions { verify, root_cert, server_name, direct: false, client_cert: ClientCertOptions::default() }
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
        let e = handshake_opts(client_io, &direct).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.message().contains("ALPN"), "{e}");
        let _ = server.await;
    }

    #[cfg(unix)]
    fn set_mode(path: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[cfg(not(unix))]
    fn set_mode(_path: &str, _mode: u32) {}

    fn text(path: &str) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[tokio::test]
    async fn self_signed_ca_certificate_given_as_its_own_root_is_accepted() {
        let Some(pki) = Pki::generate() else { return };
        pki.self_signed();
        let own = pki.path("selfsigned.crt");
        let server = || pki.server_config_with("selfsigned", None, false);
        // verify-full: the names are still checked.
        connect_to(server(), opts(Verification::Full, Some(&own), "localhost")).await.unwrap();
        let e = connect_to(server(), opts(Verification::Full, Some(&own), "db.example.com")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.message().contains("not valid for host \"db.example.com\""), "{e}");
        // verify-ca: any name.
        connect_to(server(), opts(Verification::Chain, Some(&own), "db.example.com")).await.unwrap();
        // A self-signed certificate that is not a CA: webpki takes it as its own trust anchor.
        let leaf = pki.path("selfsigned-leaf.crt");
        let leaf_server = || pki.server_config_with("selfsigned-leaf", None, false);
        connect_to(leaf_server(), opts(Verification::Full, Some(&leaf), "localhost")).await.unwrap();
        let e = connect_to(leaf_server(), opts(Verification::Full, Some(&leaf), "127.0.0.1")).await.unwrap_err();
        assert!(e.message().contains("not valid for host \"127.0.0.1\""), "{e}");
        // Pinning one self-signed certificate does not trust another.
        // (Both are named CN=localhost, so webpki may try the other as issuer and find a bad signature.)
        let e = connect_to(leaf_server(), opts(Verification::Chain, Some(&own), "localhost")).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.message().contains("unknown authority") || e.message().contains("signature does not verify"), "{e}");
        // In a bundle with other roots.
        let bundle = pki.path("bundle-self.crt");
        std::fs::write(&bundle, text(&pki.path("other_ca.crt")) + &text(&own)).unwrap();
        connect_to(server(), opts(Verification::Full, Some(&bundle), "localhost")).await.unwrap();
    }

    #[tokio::test]
    async fn self_signed_ca_certificate_not_in_the_roots_is_refused_in_words() {
        let Some(pki) = Pki::generate() else { return };
        pki.self_signed();
        let ca = pki.path("ca.crt");
        for verify in [Verification::Chain, Verification::Full] {
            let server = pki.server_config_with("selfsigned", None, false);
            let e = connect_to(server, opts(verify, Some(&ca), "localhost")).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Tls);
            // webpki checks the certificate's own properties before looking for an issuer.
            assert!(e.message().contains("presented a CA certificate as its own certificate"), "{e}");
            assert!(e.message().contains("set sslrootcert to the server's certificate itself"), "{e}");
            assert!(!e.message().contains("Other("), "{e}");
        }
    }

    /// The verifier on its own, at a chosen time.
    fn verify_at(
        pki: &Pki,
        root: &str,
        cert: &str,
        host: &str,
        full: bool,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let (roots, pinned, _) = load_roots(Some(&pki.path(root))).unwrap();
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider()).build().unwrap();
        let verifier = verify::RootVerifier::new(webpki, pinned, full);
        let ee = CertificateDer::from_pem_file(pki.path(cert)).unwrap();
        verifier.verify_server_cert(&ee, &[], &server_name(host).unwrap(), &[], now).map(|_| ())
    }

    #[test]
    fn a_pinned_self_signed_certificate_still_expires() {
        let Some(pki) = Pki::generate() else { return };
        pki.self_signed();
        let now = UnixTime::now();
        verify_at(&pki, "selfsigned.crt", "selfsigned.crt", "localhost", true, now).unwrap();
        let later = UnixTime::since_unix_epoch(std::time::Duration::from_secs(now.as_secs() + 10 * 86_400));
        let e = verify_at(&pki, "selfsigned.crt", "selfsigned.crt", "localhost", true, later).unwrap_err();
        let rustls::Error::InvalidCertificate(c) = &e else { panic!("{e:?}") };
        assert!(verify::describe(c, "localhost", "verify-full", "x").contains("has expired"), "{e:?}");
        let earlier = UnixTime::since_unix_epoch(std::time::Duration::from_secs(now.as_secs() - 10 * 86_400));
        let e = verify_at(&pki, "selfsigned.crt", "selfsigned.crt", "localhost", false, earlier).unwrap_err();
        let rustls::Error::InvalidCertificate(c) = &e else { panic!("{e:?}") };
        assert!(verify::describe(c, "localhost", "verify-ca", "x").contains("not valid yet"), "{e:?}");
    }

    #[test]
    fn a_ca_certificate_used_by_the_server_without_being_pinned_is_explained() {
        let Some(pki) = Pki::generate() else { return };
        let bundle = pki.path("bundle2.crt");
        std::fs::write(&bundle, text(&pki.path("ca.crt"))).unwrap();
        // ca.crt presented while ca.crt is a root: pinned, so accepted (it has no SAN: verify-ca).
        verify_at(&pki, "bundle2.crt", "ca.crt", "localhost", false, UnixTime::now()).unwrap();
        // A CA certificate chaining to a root but not itself pinned: described in words.
        let e = rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
            webpki::Error::CaUsedAsEndEntity,
        ))));
        let rustls::Error::InvalidCertificate(c) = &e else { unreachable!() };
        let m = verify::describe(c, "h", "verify-ca", "sslrootcert=/r.crt");
        assert!(m.contains("CA certificate as its own certificate") && m.contains("sslrootcert=/r.crt"), "{m}");
    }

    fn client_opts<'a>(ca: &'a str, cert: &'a str, key: &'a str, password: Option<&'a str>) -> TlsOptions<'a> {
        TlsOptions {
            client_cert: ClientCertOptions { cert: Some(cert), key: Some(key), password },
            ..opts(Verification::Full, Some(ca), "localhost")
        }
    }

    #[tokio::test]
    async fn client_certificates_in_every_key_format() {
        let Some(pki) = Pki::generate() else { return };
        pki.client_material();
        let ca = pki.path("ca.crt");
        for (cert, key, password) in [
            ("client.crt", "client.key", None),
            ("client.crt", "client-sec1.key", None),
            ("client.crt", "client-enc.key", Some("sekrit")),
            ("client-rsa.crt", "client-rsa.key", None),
            // A passphrase for a key that is not encrypted is ignored, as in libpq.
            ("client.crt", "client.key", Some("unused")),
        ] {
            let (cert, key) = (pki.path(cert), pki.path(key));
            let server = pki.server_config_with("server", Some("ca.crt"), false);
            let (_, sent) = connect_to(server, client_opts(&ca, &cert, &key, password)).await.unwrap();
            assert!(sent, "{key}: no client certificate reached the server");
        }
        // Without sslcert, nothing is sent (unless ~/.postgresql/postgresql.crt exists).
        if libpq_dir().map_or(true, |d| !d.join("postgresql.crt").exists()) {
            let server = pki.server_config_with("server", None, false);
            let (_, sent) = connect_to(server, opts(Verification::Full, Some(&ca), "localhost")).await.unwrap();
            assert!(!sent);
        }
    }

    /// The configuration error `prepare` gives for these client files.
    fn prepare_error(ca: &str, cert: &str, key: &str, password: Option<&str>) -> Error {
        prepare(&client_opts(ca, cert, key, password)).unwrap_err()
    }

    #[test]
    fn bad_client_certificate_files_are_config_errors_naming_the_file() {
        let Some(pki) = Pki::generate() else { return };
        pki.client_material();
        let ca = pki.path("ca.crt");
        let (crt, key) = (pki.path("client.crt"), pki.path("client.key"));
        let not_pem = pki.path("not-pem.txt");
        std::fs::write(&not_pem, "hello\n").unwrap();
        set_mode(&not_pem, 0o600);
        let missing = pki.path("missing.crt");
        let crt_as_key = pki.path("crt-as-key.pem");
        std::fs::copy(&crt, &crt_as_key).unwrap();
        set_mode(&crt_as_key, 0o600);
        let cases: Vec<(Error, &str, &str, &str)> = vec![
            (prepare_error(&ca, &missing, &key, None), "sslcert", &missing, "cannot read certificate file"),
            (prepare_error(&ca, &not_pem, &key, None), "sslcert", &not_pem, "contains no certificate"),
            (prepare_error(&ca, &key, &key, None), "sslcert", &key, "contains no certificate"),
            (prepare_error(&ca, &crt, &not_pem, None), "sslkey", &not_pem, "contains no private key"),
            (prepare_error(&ca, &crt, &crt_as_key, None), "sslkey", &crt_as_key, "contains no private key"),
            (prepare_error(&ca, &crt, &pki.path("nope.key"), None), "sslkey", &crt, "not the private key file"),
            (prepare_error(&ca, &crt, &pki.path("client-rsa.key"), None), "sslkey", &crt, "does not belong"),
        ];
        for (e, part, file, needle) in &cases {
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
            assert!(e.message().contains(&format!("`{part}`")), "{e}");
            assert!(e.message().contains(*file), "{e}");
            assert!(e.message().contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn encrypted_keys_need_the_right_password_which_is_never_shown() {
        let Some(pki) = Pki::generate() else { return };
        pki.client_material();
        let ca = pki.path("ca.crt");
        let (crt, enc) = (pki.path("client.crt"), pki.path("client-enc.key"));
        let e = prepare_error(&ca, &crt, &enc, None);
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("`sslpassword`") && e.message().contains(&enc), "{e}");
        assert!(e.message().contains("is encrypted"), "{e}");

        let e = prepare_error(&ca, &crt, &enc, Some("Wr0ng-Passphrase-QUUX"));
        assert!(e.message().contains("cannot decrypt") && e.message().contains(&enc), "{e}");
        assert!(!format!("{e} {e:?}").contains("QUUX"), "{e}");

        let legacy = pki.path("client-legacy.key");
        let e = prepare_error(&ca, &pki.path("client-rsa.crt"), &legacy, Some("sekrit"));
        assert!(e.message().contains("legacy OpenSSL format") && e.message().contains("openssl pkcs8"), "{e}");
        // Nothing of the keys themselves in any message.
        let rsa = pki.path("client-rsa.key");
        for (e, key) in
            [(prepare_error(&ca, &crt, &rsa, None), &rsa), (prepare_error(&ca, &crt, &enc, Some("x")), &enc)]
        {
            let body_line = text(key).lines().nth(1).unwrap().to_owned();
            assert!(!format!("{e} {e:?}").contains(&body_line), "{e}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_key_readable_by_others_is_refused() {
        let Some(pki) = Pki::generate() else { return };
        pki.client_material();
        let (ca, crt, key) = (pki.path("ca.crt"), pki.path("client.crt"), pki.path("client.key"));
        set_mode(&key, 0o644);
        let e = prepare_error(&ca, &crt, &key, None);
        assert!(e.message().contains("group or world access") && e.message().contains(&key), "{e}");
        set_mode(&key, 0o600);
        prepare(&client_opts(&ca, &crt, &key, None)).unwrap();
    }

    #[test]
    fn libpq_default_client_files() {
        let Some(pki) = Pki::generate() else { return };
        pki.client_material();
        let home = pki.dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let none = ClientCertOptions::default();
        // No postgresql.crt: no client certificate, no error.
        assert!(client_cert::load(&none, Some(&home)).unwrap().is_none());
        assert!(client_cert::load(&none, None).unwrap().is_none());
        // postgresql.crt without postgresql.key: an error naming both.
        std::fs::copy(pki.path("client.crt"), home.join("postgresql.crt")).unwrap();
        let e = client_cert::load(&none, Some(&home)).unwrap_err();
        assert!(e.message().contains("postgresql.crt") && e.message().contains("postgresql.key"), "{e}");
        std::fs::copy(pki.path("client.key"), home.join("postgresql.key")).unwrap();
        set_mode(&home.join("postgresql.key").to_string_lossy(), 0o600);
        let id = client_cert::load(&none, Some(&home)).unwrap().unwrap();
        assert_eq!((id.chain.len(), id.key_file.clone()), (1, home.join("postgresql.key")));
        assert!(!format!("{id:?}").contains("PRIVATE"));
        // sslkey given: used instead of the default key.
        let rsa = pki.path("client-rsa.key");
        let with_key = ClientCertOptions { key: Some(&rsa), ..none };
        assert_eq!(client_cert::load(&with_key, Some(&home)).unwrap().unwrap().key_file, PathBuf::from(&rsa));
    }

    #[tokio::test]
    async fn invalid_server_name() {
        let e = handshake_opts(tokio::io::empty(), &opts(Verification::None, None, "bad host")).await;
        let Err(e) = e else { panic!("expected an error") };
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.message().contains("\"bad host\""), "{e}");
    }

    #[tokio::test]
    async fn server_that_hangs_up_gives_a_tls_error() {
        let (client_io, server_io) = tokio::io::duplex(1024);
        drop(server_io);
        let Err(e) = handshake_opts(client_io, &opts(Verification::None, None, "localhost")).await else {
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
