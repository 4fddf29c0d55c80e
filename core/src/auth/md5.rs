//! The response to PostgreSQL's `AuthenticationMD5Password`.

use ::md5::{Digest, Md5};

/// Computes `"md5" + md5hex(md5hex(password + user) + salt)`, the password
/// message PostgreSQL expects after `AuthenticationMD5Password` with `salt`.
///
/// The inner hash is what the server stores (`pg_authid.rolpassword` without
/// the `md5` prefix); the salt makes the response single-use.
///
/// ```
/// use edgepg_core::auth::md5_password;
/// let msg = md5_password(b"postgres", b"postgres", [1, 2, 3, 4]);
/// assert_eq!(msg, "md568be9ed08db75f318087ab337aaea044");
/// ```
pub fn md5_password(user: &[u8], password: &[u8], salt: [u8; 4]) -> String {
    let mut inner = Md5::new();
    inner.update(password);
    inner.update(user);
    let inner_hex = hex(&inner.finalize());

    let mut outer = Md5::new();
    outer.update(inner_hex.as_bytes());
    outer.update(salt);
    let mut out = String::with_capacity(35);
    out.push_str("md5");
    out.push_str(&hex(&outer.finalize()));
    out
}

/// Lowercase hex, as PostgreSQL's `pg_md5_hash` produces.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values computed with coreutils:
    /// `inner=$(echo -n postgrespostgres | md5sum | cut -d' ' -f1)` →
    /// `3175bce1d3201d16594cebf9d7eb3f9d`, then
    /// `(echo -n $inner; printf '\x01\x02\x03\x04') | md5sum`.
    #[test]
    fn postgres_fixture() {
        assert_eq!(md5_password(b"postgres", b"postgres", [1, 2, 3, 4]), "md568be9ed08db75f318087ab337aaea044");
    }

    #[test]
    fn salt_and_user_matter() {
        let base = md5_password(b"postgres", b"postgres", [1, 2, 3, 4]);
        assert_ne!(base, md5_password(b"postgres", b"postgres", [1, 2, 3, 5]));
        assert_ne!(base, md5_password(b"postgre", b"postgres", [1, 2, 3, 4]));
        assert_eq!(base.len(), 35);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
