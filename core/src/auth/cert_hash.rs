//! `tls-server-end-point` channel-binding data (RFC 5929, section 4.1).
//!
//! The data is a hash of the server's end-entity certificate (the DER bytes
//! exactly as sent in the TLS handshake). The hash function is the one the
//! certificate's own signature algorithm uses, except that MD5 and SHA-1 are
//! replaced by SHA-256.
//!
//! Signature algorithms without a separate hash (Ed25519, Ed448) and unknown
//! algorithms are an error here. RFC 5929 leaves them undefined, and
//! PostgreSQL (server and libpq alike) fails with "could not find digest for
//! NID ..." for such certificates, so guessing SHA-256 would only turn a clear
//! error into a channel-binding mismatch. A caller that gets an error should
//! treat channel binding as unavailable for this connection: fail when
//! channel binding is required, otherwise authenticate with plain
//! `SCRAM-SHA-256` and the `n,,` GS2 header.

use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::der::{Reader, TAG_OID, TAG_SEQUENCE};
use crate::error::{Error, ErrorKind, Result};

/// The hash functions a certificate signature can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashAlg {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// Applies RFC 5929's rule and hashes `data`.
    fn channel_binding_hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            // RFC 5929 4.1: MD5 and SHA-1 are upgraded to SHA-256.
            HashAlg::Md5 | HashAlg::Sha1 | HashAlg::Sha256 => Sha256::digest(data).to_vec(),
            HashAlg::Sha224 => Sha224::digest(data).to_vec(),
            HashAlg::Sha384 => Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

// DER content octets of the OIDs we recognise (checked against their dotted
// forms in the tests).
const PKCS1: [u8; 8] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01]; // 1.2.840.113549.1.1
const ECDSA_WITH_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01]; // 1.2.840.10045.4.1
const ECDSA_WITH_SHA2: [u8; 7] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03]; // 1.2.840.10045.4.3
const DSA_WITH_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03]; // 1.2.840.10040.4.3
const NIST_SIG: [u8; 8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03]; // 2.16.840.1.101.3.4.3
const NIST_HASH: [u8; 8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02]; // 2.16.840.1.101.3.4.2
const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a]; // 1.3.14.3.2.26
const MD5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05]; // 1.2.840.113549.2.5
const ED25519: &[u8] = &[0x2b, 0x65, 0x70]; // 1.3.101.112
const ED448: &[u8] = &[0x2b, 0x65, 0x71]; // 1.3.101.113
const RSASSA_PSS_LAST: u8 = 10; // 1.2.840.113549.1.1.10

/// Computes the `tls-server-end-point` channel-binding data for a server
/// certificate given as DER: the certificate hashed with the hash of its
/// signature algorithm (SHA-256 for MD5 and SHA-1 signatures).
///
/// Recognised signatures: RSA PKCS#1 v1.5 with MD5/SHA-1/SHA-224/256/384/512,
/// RSASSA-PSS (hash taken from the PSS parameters; absent parameters mean
/// SHA-1 and so SHA-256), ECDSA and DSA with SHA-1/SHA-2. Ed25519, Ed448,
/// unknown algorithms and malformed DER give an [`ErrorKind::Tls`] error;
/// see the module documentation for what a caller should do then.
///
/// ```
/// # use edgepg_core::auth::tls_server_end_point;
/// // Not a certificate: an error, never a panic.
/// assert!(tls_server_end_point(&[0x30, 0x03, 0x02, 0x01]).is_err());
/// ```
pub fn tls_server_end_point(cert_der: &[u8]) -> Result<Vec<u8>> {
    let hash = signature_hash(cert_der)?;
    Ok(hash.channel_binding_hash(cert_der))
}

/// Finds the hash of the certificate's outer `signatureAlgorithm`.
fn signature_hash(cert_der: &[u8]) -> Result<HashAlg> {
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
    let mut outer = Reader::new(cert_der);
    let cert = outer.read(TAG_SEQUENCE)?;
    if !outer.is_empty() {
        return Err(tls_err("malformed server certificate (DER): trailing data"));
    }
    let mut fields = Reader::new(cert.value);
    fields.read(TAG_SEQUENCE)?; // tbsCertificate, not needed
    let alg_id = fields.read(TAG_SEQUENCE)?;
    // AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }
    let mut alg = Reader::new(alg_id.value);
    let oid = alg.read(TAG_OID)?.value;
    let params = if alg.is_empty() { None } else { Some(alg.read_any()?) };

    if let Some(last) = suffix(oid, &PKCS1) {
        return match last {
            4 => Ok(HashAlg::Md5),
            5 => Ok(HashAlg::Sha1),
            11 => Ok(HashAlg::Sha256),
            12 => Ok(HashAlg::Sha384),
            13 => Ok(HashAlg::Sha512),
            14 => Ok(HashAlg::Sha224),
            RSASSA_PSS_LAST => pss_hash(params.filter(|p| p.tag == TAG_SEQUENCE).map(|p| p.value)),
            _ => Err(unsupported(oid)),
        };
    }
    if oid == ECDSA_WITH_SHA1 || oid == DSA_WITH_SHA1 {
        return Ok(HashAlg::Sha1);
    }
    if let Some(last) = suffix(oid, &ECDSA_WITH_SHA2) {
        return sha2_by_index(last).ok_or_else(|| unsupported(oid));
    }
    if let Some(last) = suffix(oid, &NIST_SIG) {
        // dsa-with-sha224 (1), dsa-with-sha256 (2); later arcs are SHA-3 and
        // other schemes PostgreSQL's OpenSSL digest lookup may not share.
        return match last {
            1 => Ok(HashAlg::Sha224),
            2 => Ok(HashAlg::Sha256),
            _ => Err(unsupported(oid)),
        };
    }
    if oid == ED25519 || oid == ED448 {
        return Err(tls_err(
            "the server certificate is signed with EdDSA, which has no hash for tls-server-end-point \
             channel binding (PostgreSQL cannot do it either); use a certificate signed with RSA or \
             ECDSA, or disable channel binding",
        ));
    }
    Err(unsupported(oid))
}

/// The hash named in RSASSA-PSS parameters:
/// `RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] EXPLICIT AlgorithmIdentifier DEFAULT sha1, ... }`.
fn pss_hash(params: Option<&[u8]>) -> Result<HashAlg> {
    let Some(params) = params else { return Ok(HashAlg::Sha1) };
    let mut fields = Reader::new(params);
    if fields.is_empty() {
        return Ok(HashAlg::Sha1);
    }
    let first = fields.read_any()?;
    // Context tag [0], constructed; any other first field means the hash was
    // left at its default.
    if first.tag != 0xa0 {
        return Ok(HashAlg::Sha1);
    }
    let alg_id = Reader::new(first.value).read(TAG_SEQUENCE)?;
    let oid = Reader::new(alg_id.value).read(TAG_OID)?.value;
    if oid == SHA1 {
        return Ok(HashAlg::Sha1);
    }
    if oid == MD5 {
        return Ok(HashAlg::Md5);
    }
    match suffix(oid, &NIST_HASH) {
        // id-sha256 (1), id-sha384 (2), id-sha512 (3), id-sha224 (4)
        Some(1) => Ok(HashAlg::Sha256),
        Some(2) => Ok(HashAlg::Sha384),
        Some(3) => Ok(HashAlg::Sha512),
        Some(4) => Ok(HashAlg::Sha224),
        _ => Err(unsupported(oid)),
    }
}

/// ecdsa-with-SHA224 (1) .. ecdsa-with-SHA512 (4).
fn sha2_by_index(i: u8) -> Option<HashAlg> {
    match i {
        1 => Some(HashAlg::Sha224),
        2 => Some(HashAlg::Sha256),
        3 => Some(HashAlg::Sha384),
        4 => Some(HashAlg::Sha512),
        _ => None,
    }
}

/// When `oid` is `prefix` plus one single-byte arc, that arc.
fn suffix(oid: &[u8], prefix: &[u8]) -> Option<u8> {
    match oid.strip_prefix(prefix) {
        Some(&[last]) if last < 0x80 => Some(last),
        _ => None,
    }
}

fn unsupported(oid: &[u8]) -> Error {
    tls_err(format!(
        "the server certificate's signature algorithm (OID {}) has no known hash for \
         tls-server-end-point channel binding",
        dotted(oid)
    ))
}

fn tls_err(msg: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::Tls, msg)
}

/// Dotted form of an OID for error messages; falls back to hex when the
/// encoding is not a valid OID (it came from the peer).
fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    for &b in oid {
        if v > (u64::MAX >> 7) {
            return hex(oid);
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(v);
            v = 0;
        }
    }
    let Some(&first) = arcs.first() else { return hex(oid) };
    if v != 0 || oid.last().is_some_and(|b| b & 0x80 != 0) {
        return hex(oid);
    }
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut s = format!("{a}.{b}");
    for arc in &arcs[1..] {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    s
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::der::encode_oid;
    use super::*;

    /// A self-signed ECDSA P-256 certificate (signature ecdsa-with-SHA256),
    /// made once with openssl; see testdata/README.md.
    const EC_P256_SHA256: &[u8] = include_bytes!("testdata/ec_p256_sha256.der");
    /// `openssl x509 -inform der -in ec_p256_sha256.der -noout -fingerprint -sha256`
    const EC_P256_SHA256_FP: &str = "19:9C:A6:C9:ED:F8:9F:AF:1D:B2:0B:DB:16:80:D9:11:\
         4C:FC:3A:3A:83:AF:DE:DA:55:68:5A:D8:D6:9B:49:DF";
    /// A self-signed RSA certificate signed with sha384WithRSAEncryption.
    const RSA_SHA384: &[u8] = include_bytes!("testdata/rsa_sha384.der");
    /// `openssl x509 -inform der -in rsa_sha384.der -noout -fingerprint -sha384`
    const RSA_SHA384_FP: &str = "82:8E:2C:36:80:45:AF:10:51:45:8F:00:CA:04:7D:BE:4A:4F:C7:55:88:F5:CF:C1:\
         B8:5A:B7:18:66:9B:0B:BF:12:3B:C8:A2:54:44:78:88:64:34:B0:17:87:81:F6:CA";
    /// A self-signed RSASSA-PSS certificate with SHA-512 in its PSS parameters.
    const PSS_SHA512: &[u8] = include_bytes!("testdata/rsa_pss_sha512.der");
    /// `openssl x509 -inform der -in rsa_pss_sha512.der -noout -fingerprint -sha512`
    const PSS_SHA512_FP: &str =
        "93:D5:6E:B4:85:22:BE:65:BF:5A:D5:B7:9C:31:9D:31:66:9A:51:15:21:F2:B0:95:70:2E:F8:A2:EE:55:67:10:\
         C4:0B:08:B1:CF:37:5B:AF:83:76:7F:97:B6:DC:7F:06:32:19:C1:EA:2D:75:72:2B:E8:5B:96:EA:02:E1:06:1C";
    /// A self-signed Ed25519 certificate.
    const ED25519_CERT: &[u8] = include_bytes!("testdata/ed25519.der");

    fn fingerprint(hex_colon: &str) -> Vec<u8> {
        hex_colon.split(':').map(|h| u8::from_str_radix(h, 16).unwrap()).collect()
    }

    #[test]
    fn oid_tables_match_dotted_names() {
        assert_eq!(PKCS1.to_vec(), encode_oid(&[1, 2, 840, 113549, 1, 1]).to_vec());
        assert_eq!(ECDSA_WITH_SHA1, encode_oid(&[1, 2, 840, 10045, 4, 1]));
        assert_eq!(ECDSA_WITH_SHA2.to_vec(), encode_oid(&[1, 2, 840, 10045, 4, 3]));
        assert_eq!(DSA_WITH_SHA1, encode_oid(&[1, 2, 840, 10040, 4, 3]));
        assert_eq!(NIST_SIG.to_vec(), encode_oid(&[2, 16, 840, 1, 101, 3, 4, 3]));
        assert_eq!(NIST_HASH.to_vec(), encode_oid(&[2, 16, 840, 1, 101, 3, 4, 2]));
        assert_eq!(SHA1, encode_oid(&[1, 3, 14, 3, 2, 26]));
        assert_eq!(MD5, encode_oid(&[1, 2, 840, 113549, 2, 5]));
        assert_eq!(ED25519, encode_oid(&[1, 3, 101, 112]));
        assert_eq!(ED448, encode_oid(&[1, 3, 101, 113]));
    }

    #[test]
    fn ecdsa_p256_sha256_cert_matches_openssl_fingerprint() {
        let h = tls_server_end_point(EC_P256_SHA256).unwrap();
        assert_eq!(h, fingerprint(EC_P256_SHA256_FP));
        assert_eq!(h, Sha256::digest(EC_P256_SHA256).to_vec());
    }

    #[test]
    fn rsa_sha384_cert_uses_sha384() {
        let h = tls_server_end_point(RSA_SHA384).unwrap();
        assert_eq!(h.len(), 48);
        assert_eq!(h, fingerprint(RSA_SHA384_FP));
    }

    #[test]
    fn rsa_pss_cert_uses_hash_from_parameters() {
        let h = tls_server_end_point(PSS_SHA512).unwrap();
        assert_eq!(h.len(), 64);
        assert_eq!(h, fingerprint(PSS_SHA512_FP));
    }

    #[test]
    fn ed25519_cert_is_an_error() {
        let e = tls_server_end_point(ED25519_CERT).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.message().contains("EdDSA"), "{e}");
    }

    /// Builds `SEQUENCE { SEQUENCE {}, SEQUENCE { OID oid [, params] }, BIT STRING }`.
    fn fake_cert(oid: &[u8], params: Option<&[u8]>) -> Vec<u8> {
        fn tlv(tag: u8, v: &[u8]) -> Vec<u8> {
            assert!(v.len() < 128);
            let mut out = vec![tag, v.len() as u8];
            out.extend_from_slice(v);
            out
        }
        let mut alg = tlv(TAG_OID, oid);
        if let Some(p) = params {
            alg.extend_from_slice(p);
        }
        let mut body = tlv(TAG_SEQUENCE, &[]);
        body.extend(tlv(TAG_SEQUENCE, &alg));
        body.extend(tlv(0x03, &[0, 1, 2]));
        tlv(TAG_SEQUENCE, &body)
    }

    #[test]
    fn hash_selection_by_algorithm() {
        let pkcs1 = |n: u64| encode_oid(&[1, 2, 840, 113549, 1, 1, n]);
        let null = Some(&[0x05, 0x00][..]);
        // (signature OID, parameters, expected hash length)
        type Case<'a> = (Vec<u8>, Option<&'a [u8]>, usize);
        let cases: Vec<Case> = vec![
            (pkcs1(4), null, 32),  // md5WithRSA -> SHA-256
            (pkcs1(5), null, 32),  // sha1WithRSA -> SHA-256
            (pkcs1(11), null, 32), // sha256WithRSA
            (pkcs1(12), null, 48), // sha384WithRSA
            (pkcs1(13), null, 64), // sha512WithRSA
            (pkcs1(14), null, 28), // sha224WithRSA
            (encode_oid(&[1, 2, 840, 10045, 4, 1]), None, 32),
            (encode_oid(&[1, 2, 840, 10045, 4, 3, 3]), None, 48),
            (encode_oid(&[1, 2, 840, 10045, 4, 3, 4]), None, 64),
            (encode_oid(&[1, 2, 840, 10040, 4, 3]), None, 32),
            (encode_oid(&[2, 16, 840, 1, 101, 3, 4, 3, 2]), None, 32),
            // PSS without parameters: SHA-1 default -> SHA-256
            (pkcs1(10), None, 32),
        ];
        for (oid, params, len) in cases {
            let cert = fake_cert(&oid, params);
            let h = tls_server_end_point(&cert).unwrap_or_else(|e| panic!("{}: {e}", dotted(&oid)));
            assert_eq!(h.len(), len, "{}", dotted(&oid));
        }
        // PSS with explicit SHA-384: SEQUENCE { [0] { SEQUENCE { OID sha384, NULL } } }
        let sha384 = encode_oid(&[2, 16, 840, 1, 101, 3, 4, 2, 2]);
        let mut alg = vec![0x30, (sha384.len() + 4) as u8, TAG_OID, sha384.len() as u8];
        alg.extend(&sha384);
        alg.extend([0x05, 0x00]);
        let mut params = vec![0x30, (alg.len() + 2) as u8, 0xa0, alg.len() as u8];
        params.extend(&alg);
        let h = tls_server_end_point(&fake_cert(&pkcs1(10), Some(&params))).unwrap();
        assert_eq!(h, Sha384::digest(fake_cert(&pkcs1(10), Some(&params))).to_vec());
    }

    #[test]
    fn unknown_algorithm_is_an_error_naming_the_oid() {
        let e = tls_server_end_point(&fake_cert(&encode_oid(&[1, 2, 3, 4]), None)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.message().contains("1.2.3.4"), "{e}");
    }

    #[test]
    fn trailing_data_is_an_error() {
        let mut cert = EC_P256_SHA256.to_vec();
        cert.push(0);
        assert!(tls_server_end_point(&cert).is_err());
    }

    #[test]
    fn truncated_and_garbage_certificates_do_not_panic() {
        for cert in [EC_P256_SHA256, RSA_SHA384, PSS_SHA512, ED25519_CERT] {
            for len in 0..cert.len() {
                assert!(tls_server_end_point(&cert[..len]).is_err());
            }
        }
        // Deterministic pseudo-random mutations of a real certificate.
        let mut x: u32 = 0x1234_5678;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for _ in 0..5000 {
            let mut cert = EC_P256_SHA256.to_vec();
            for _ in 0..(next() % 4 + 1) {
                let i = next() as usize % cert.len();
                cert[i] = next() as u8;
            }
            let _ = tls_server_end_point(&cert);
        }
        for _ in 0..2000 {
            let len = next() as usize % 64;
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = tls_server_end_point(&bytes);
        }
    }

    #[test]
    fn dotted_handles_hostile_oids() {
        assert_eq!(dotted(&[0x2a, 0x03]), "1.2.3");
        assert_eq!(dotted(&[0x2a, 0x86]), "2a86");
        assert_eq!(dotted(&[]), "");
        assert_eq!(dotted(&[0xff; 20]), "ffffffffffffffffffffffffffffffffffffffff");
    }
}
