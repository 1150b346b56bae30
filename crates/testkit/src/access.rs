//! Key pairs with permissions for [`crate::S3Server`]: the server-side
//! stand-in for an IAM policy, so a client can be tested against a real
//! `403 AccessDenied` (valid signature, missing permission) as well as a
//! rejected signature.

use std::collections::HashMap;

use s3s::access::{S3Access, S3AccessContext};
use s3s::{S3Result, s3_error};

/// What a key pair may do, on every bucket of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Every operation.
    Full,
    /// Reads only: HeadBucket, ListObjects(V2), HeadObject, GetObject.
    /// Writes (PUT, multipart, DELETE, bucket changes) are denied, as for
    /// a role with `s3:GetObject` + `s3:ListBucket` but no `s3:PutObject`.
    ReadOnly,
    /// Authenticates, then is denied everything: a valid key of another
    /// account, or one with no policy on the bucket.
    Nothing,
}

/// A key pair the server accepts, and what it may do.
#[derive(Debug, Clone)]
pub struct S3User {
    pub access_key: String,
    pub secret_key: String,
    pub grant: Grant,
}

impl S3User {
    pub fn new(access_key: &str, secret_key: &str, grant: Grant) -> S3User {
        S3User {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            grant,
        }
    }
}

/// Operations a [`Grant::ReadOnly`] key may call.
const READ_OPERATIONS: &[&str] = &[
    "HeadBucket",
    "GetBucketLocation",
    "ListBuckets",
    "ListObjects",
    "ListObjectsV2",
    "HeadObject",
    "GetObject",
];

/// The [`S3Access`] policy: by access key, the grant.
pub(crate) struct Grants(pub(crate) HashMap<String, Grant>);

#[async_trait::async_trait]
impl S3Access for Grants {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        let grant = self
            .0
            .get(&credentials.access_key)
            .copied()
            .unwrap_or(Grant::Nothing);
        let operation = cx.s3_op().name();
        let allowed = match grant {
            Grant::Full => true,
            Grant::ReadOnly => READ_OPERATIONS.contains(&operation),
            Grant::Nothing => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(s3_error!(
                AccessDenied,
                "{operation} is not allowed for this key"
            ))
        }
    }
}
