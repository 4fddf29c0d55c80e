//! Authentication mechanisms: SCRAM-SHA-256(-PLUS), MD5, channel binding.
