//! Client certificates: `sslcert`, `sslkey` and `sslpassword`, read as libpq
//! reads them.
//!
//! * The certificate file (PEM; the first certificate is the client's own, any
//!   further ones are intermediates sent along) is `sslcert`, else libpq's
//!   default `~/.postgresql/postgresql.crt` (`%APPDATA%\postgresql\postgresql.crt`
//!   on Windows). No default file means no client certificate, as in libpq; a
//!   *named* file that is missing is an error (libpq silently goes on without,
//!   which turns a typo into a confusing "certificate required" from the server).
//! * The key file is `sslkey`, else `postgresql.key` beside the default
//!   certificate. PEM: PKCS#8 (`BEGIN PRIVATE KEY`), PKCS#1 (`BEGIN RSA PRIVATE
//!   KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`); an encrypted PKCS#8 key (`BEGIN
//!   ENCRYPTED PRIVATE KEY`, PBES2 with PBKDF2 or scrypt and AES-CBC — what
//!   OpenSSL 3 writes) is decrypted with `sslpassword`. The legacy OpenSSL
//!   encryption (`Proc-Type: 4,ENCRYPTED` headers) is not supported; the error
//!   says how to convert the key.
//! * On Unix, as in libpq, the key file must not be readable by group or others
//!   (`0600`), or `0640` at most when it belongs to root.
//!
//! Every problem is a configuration error naming the option and the file,
//! raised before any connection is opened; no message ever contains key
//! material or the passphrase.

use std::path::{Path, PathBuf};

use edgepg_core::Error;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The client-certificate options of one connection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ClientCertOptions<'a> {
    /// `sslcert`, if given.
    pub cert: Option<&'a str>,
    /// `sslkey`, if given.
    pub key: Option<&'a str>,
    /// `sslpassword`, if given.
    pub password: Option<&'a str>,
}

/// A loaded certificate chain and its key.
pub(crate) struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Identity").field("cert_file", &self.cert_file).field("key_file", &self.key_file).finish()
    }
}

/// Loads the client certificate and key for `opts`; `default_dir` is libpq's
/// `~/.postgresql` (or `None` without a home directory). `Ok(None)`: no
/// client certificate to send.
pub(crate) fn load(opts: &ClientCertOptions<'_>, default_dir: Option<&Path>) -> Result<Option<Identity>, Error> {
    let cert_file = match (opts.cert, default_dir) {
        (Some(path), _) => PathBuf::from(path),
        (None, Some(dir)) => {
            let path = dir.join("postgresql.crt");
            if !path.exists() {
                return Ok(None);
            }
            path
        }
        (None, None) => return Ok(None),
    };
    // libpq: the default key lives in the default directory, whatever sslcert says.
    let key_file = match (opts.key, default_dir) {
        (Some(path), _) => PathBuf::from(path),
        (None, Some(dir)) => dir.join("postgresql.key"),
        (None, None) => {
            return Err(Error::config(
                "sslkey",
                format!(
                    "sslcert \"{}\" is set but sslkey is not (and there is no home directory)",
                    cert_file.display()
                ),
            ))
        }
    };
    let chain = read_certificates(&cert_file)?;
    let key = read_key(&key_file, &cert_file, opts.password)?;
    Ok(Some(Identity { chain, key, cert_file, key_file }))
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let shown = path.display();
    let bytes = std::fs::read(path)
        .map_err(|e| Error::config("sslcert", format!("cannot read certificate file \"{shown}\": {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::config("sslcert", format!("\"{shown}\" is not a valid PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(Error::config(
            "sslcert",
            format!("\"{shown}\" contains no certificate (expected a PEM block \"BEGIN CERTIFICATE\")"),
        ));
    }
    Ok(certs)
}

const ENCRYPTED_PKCS8: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_PKCS8_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

fn read_key(path: &Path, cert_file: &Path, password: Option<&str>) -> Result<PrivateKeyDer<'static>, Error> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::config(
                "sslkey",
                format!("certificate \"{}\" is present, but not the private key file \"{shown}\"", cert_file.display()),
            )
        } else {
            Error::config("sslkey", format!("cannot read private key file \"{shown}\": {e}"))
        }
    })?;
    check_permissions(path)?;
    // A key file is text; anything else cannot be PEM. (Errors below never quote it.)
    let text = String::from_utf8_lossy(&bytes);
    if let Some(start) = text.find(ENCRYPTED_PKCS8) {
        return decrypt_pkcs8(&text[start..], path, password);
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(Error::config(
            "sslkey",
            format!(
                "\"{shown}\" is encrypted in the legacy OpenSSL format, which edgepg cannot read; convert it to \
                 encrypted PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD -out NEW`"
            ),
        ));
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => Error::config(
            "sslkey",
            format!(
                "\"{shown}\" contains no private key (expected a PEM block \"BEGIN PRIVATE KEY\", \
                 \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\")"
            ),
        ),
        // The parser's own message may quote a line of the file: not shown.
        _ => Error::config("sslkey", format!("\"{shown}\" is not a valid PEM private key file")),
    })
}

fn decrypt_pkcs8(pem_text: &str, path: &Path, password: Option<&str>) -> Result<PrivateKeyDer<'static>, Error> {
    use pkcs8::der::SecretDocument;
    use pkcs8::EncryptedPrivateKeyInfo;

    let shown = path.display();
    let Some(password) = password else {
        return Err(Error::config(
            "sslpassword",
            format!("the private key \"{shown}\" is encrypted; give its passphrase in sslpassword"),
        ));
    };
    let block = match pem_text.find(ENCRYPTED_PKCS8_END) {
        Some(end) => &pem_text[..end + ENCRYPTED_PKCS8_END.len()],
        None => pem_text,
    };
    let malformed = || Error::config("sslkey", format!("\"{shown}\" is not a valid encrypted PKCS#8 key"));
    let (_, doc) = SecretDocument::from_pem(block).map_err(|_| malformed())?;
    let info = EncryptedPrivateKeyInfo::try_from(doc.as_bytes()).map_err(|_| malformed())?;
    let plain = info.decrypt(password.as_bytes()).map_err(|e| {
        Error::config(
            "sslpassword",
            format!(
                "cannot decrypt the private key \"{shown}\": wrong sslpassword, or an encryption scheme edgepg does \
                 not support (PBES2 with PBKDF2 or scrypt and AES-CBC are supported) ({e})"
            ),
        )
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(plain.as_bytes().to_vec())))
}

/// libpq's rule: a private key readable by group or others is refused.
#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::config("sslkey", format!("cannot read private key file \"{shown}\": {e}")))?;
    if !meta.is_file() {
        return Err(Error::config("sslkey", format!("private key file \"{shown}\" is not a regular file")));
    }
    let mode = meta.mode() & 0o777;
    // libpq allows 0640 for a root-owned key when not running as root (and
    // 0600 as root); without the effective uid at hand, root-owned keys get 0640.
    let (bad, allowed) = if meta.uid() == 0 { (mode & 0o037, "0640") } else { (mode & 0o077, "0600") };
    if bad != 0 {
        return Err(Error::config(
            "sslkey",
            format!(
                "private key file \"{shown}\" has group or world access (mode {mode:04o}); it must be {allowed} or \
                 less (chmod {allowed} \"{shown}\")"
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), Error> {
    Ok(())
}
