//! The artist's signing identity for Content Credentials: made on this computer the first time
//! it is needed (a local root certificate and an end-entity certificate in the artist's name,
//! P-256 keys), or the artist's own certificate chain and key imported from PEM files. It lives
//! in the config folder, the keys readable by the owner only. Nothing is uploaded.
//!
//! The end-entity certificate is what the C2PA SDK accepts for signing: X.509 v3, not a CA,
//! KeyUsage digitalSignature, ExtendedKeyUsage emailProtection, with authority and subject key
//! identifiers. A reader shows a local identity as valid but "signer not on a trust list" until
//! someone adds the local root (exported from Settings) to their trust anchors.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

/// The files of an identity in its folder.
const CHAIN: &str = "chain.pem";
const KEY: &str = "signing-key.pem";
const ROOT: &str = "local-root.pem";
const ABOUT: &str = "identity.json";

/// Why an identity cannot be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The certificates could not be made.
    #[error("could not make the local signing certificates ({0})")]
    Make(String),
    /// A file could not be read or written.
    #[error("could not {action} {} ({reason})", path.display())]
    File {
        /// "read" or "write".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An imported chain or key is unusable.
    #[error("the certificate chain or key cannot sign Content Credentials: {0}")]
    Unusable(String),
}

/// Where an identity came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityKind {
    /// Made on this computer: readers show it as valid, signer not on a trust list.
    Local,
    /// The artist's own chain, imported.
    Imported,
}

/// A signing identity: the certificate chain (end entity first) and its private key.
#[derive(Clone, derive_more::Debug)]
pub struct SigningIdentity {
    /// The chain, PEM, end entity first.
    #[debug(skip)]
    pub chain_pem: String,
    /// The end entity's private key, PKCS#8 PEM (never shown).
    #[debug(skip)]
    key_pem: String,
    /// The local root certificate (PEM), for a local identity.
    #[debug(skip)]
    pub root_pem: Option<String>,
    /// The name in the end-entity certificate.
    pub signer: String,
    /// Local or imported.
    pub kind: IdentityKind,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct About {
    signer: String,
    kind: IdentityKind,
}

/// The name a local identity is made with when the artist gave none.
pub const DEFAULT_SIGNER: &str = "Pentimento artist";

impl SigningIdentity {
    /// A new local identity for `artist`: a root certificate made for it and an end-entity
    /// certificate in the artist's name, valid for ten years from now.
    pub fn make_local(artist: &str) -> Result<Self, IdentityError> {
        let make = |err: rcgen::Error| IdentityError::Make(err.to_string());
        let name = if artist.trim().is_empty() {
            DEFAULT_SIGNER.to_owned()
        } else {
            artist.trim().to_owned()
        };

        let mut root = CertificateParams::default();
        root.distinguished_name = distinguished_name(&format!("{name} (local root, Pentimento)"));
        root.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        root.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut root);
        root.serial_number = Some(serial());
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(make)?;
        // The root signs only this certificate; its key is not kept.
        let root = CertifiedIssuer::self_signed(root, root_key).map_err(make)?;

        let mut leaf = CertificateParams::default();
        leaf.distinguished_name = distinguished_name(&name);
        leaf.is_ca = IsCa::ExplicitNoCa;
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
        leaf.use_authority_key_identifier_extension = true;
        set_validity(&mut leaf);
        leaf.serial_number = Some(serial());
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(make)?;
        let leaf_cert = leaf.signed_by(&leaf_key, &root).map_err(make)?;
        Ok(Self {
            chain_pem: format!("{}{}", leaf_cert.pem(), root.pem()),
            key_pem: leaf_key.serialize_pem(),
            root_pem: Some(root.pem()),
            signer: name,
            kind: IdentityKind::Local,
        })
    }

    /// An identity from the artist's own PEM files: the chain (end entity first) and its key
    /// (PKCS#8). It is checked by signing with it.
    pub fn import(chain: &Path, key: &Path, signer: &str) -> Result<Self, IdentityError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|err| IdentityError::File {
                action: "read",
                path: path.to_path_buf(),
                reason: err.to_string(),
            })
        };
        let identity = Self {
            chain_pem: read(chain)?,
            key_pem: read(key)?,
            root_pem: None,
            signer: signer.to_owned(),
            kind: IdentityKind::Imported,
        };
        if identity.key_pem.contains("BEGIN EC PRIVATE KEY") {
            return Err(IdentityError::Unusable(
                "the key is in SEC1 form (BEGIN EC PRIVATE KEY); convert it to PKCS#8 with \
                 `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key-pkcs8.pem`"
                    .to_owned(),
            ));
        }
        identity.check_by_signing()?;
        Ok(identity)
    }

    /// Signs a 1×1 PNG with the identity: the C2PA SDK checks the chain's profile (end entity,
    /// key usages, identifiers) only when it signs.
    fn check_by_signing(&self) -> Result<(), IdentityError> {
        let mut png = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut png, 1, 1);
            encoder.set_color(png::ColorType::Rgba);
            let written = encoder
                .write_header()
                .and_then(|mut writer| writer.write_image_data(&[0, 0, 0, 0]));
            written.map_err(|err| IdentityError::Unusable(err.to_string()))?;
        }
        let content = super::ManifestContent {
            title: "check.png".to_owned(),
            actions: vec![serde_json::json!({
                "action": "c2pa.created",
                "digitalSourceType": super::source_type::DIGITAL_CREATION,
            })],
            assertions: Vec::new(),
            regions: Vec::new(),
            ingredients: Vec::new(),
        };
        super::sign(&png, "image/png", &content, self)
            .map(|_| ())
            .map_err(|err| match err {
                super::CredentialError::Identity(err) => err,
                other => IdentityError::Unusable(other.to_string()),
            })
    }

    /// The identity kept in `folder`, if there is one.
    pub fn load(folder: &Path) -> Result<Option<Self>, IdentityError> {
        let about_path = folder.join(ABOUT);
        if !about_path.exists() {
            return Ok(None);
        }
        let read = |name: &str| {
            let path = folder.join(name);
            std::fs::read_to_string(&path).map_err(|err| IdentityError::File {
                action: "read",
                path,
                reason: err.to_string(),
            })
        };
        let about: About =
            serde_json::from_str(&read(ABOUT)?).map_err(|err| IdentityError::File {
                action: "read",
                path: about_path.clone(),
                reason: err.to_string(),
            })?;
        let root_pem = folder.join(ROOT).exists().then(|| read(ROOT)).transpose()?;
        Ok(Some(Self {
            chain_pem: read(CHAIN)?,
            key_pem: read(KEY)?,
            root_pem,
            signer: about.signer,
            kind: about.kind,
        }))
    }

    /// The identity in `folder`, made there for `artist` the first time.
    pub fn load_or_make(folder: &Path, artist: &str) -> Result<Self, IdentityError> {
        if let Some(identity) = Self::load(folder)? {
            return Ok(identity);
        }
        let identity = Self::make_local(artist)?;
        identity.save(folder)?;
        Ok(identity)
    }

    /// Writes the identity into `folder` (keys readable by the owner only).
    pub fn save(&self, folder: &Path) -> Result<(), IdentityError> {
        let write = |name: &str, text: &str, secret: bool| {
            let path = folder.join(name);
            write_private(&path, text.as_bytes(), secret).map_err(|err| IdentityError::File {
                action: "write",
                path,
                reason: err.to_string(),
            })
        };
        std::fs::create_dir_all(folder).map_err(|err| IdentityError::File {
            action: "write",
            path: folder.to_path_buf(),
            reason: err.to_string(),
        })?;
        write(CHAIN, &self.chain_pem, false)?;
        write(KEY, &self.key_pem, true)?;
        match &self.root_pem {
            Some(root) => write(ROOT, root, false)?,
            // An imported chain replaces a local identity: its root is not this one's.
            None => {
                let _ = std::fs::remove_file(folder.join(ROOT));
            }
        }
        let about = serde_json::to_string_pretty(&About {
            signer: self.signer.clone(),
            kind: self.kind,
        })
        .unwrap_or_default();
        write(ABOUT, &about, false)?;
        Ok(())
    }

    /// A C2PA signer for this identity (ES256, no timestamp authority: nothing is sent anywhere).
    pub fn signer(&self) -> Result<c2pa::BoxedSigner, IdentityError> {
        c2pa::create_signer::from_keys(
            self.chain_pem.as_bytes(),
            self.key_pem.as_bytes(),
            c2pa::SigningAlg::Es256,
            None,
        )
        .map_err(|err| IdentityError::Unusable(err.to_string()))
    }
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name.push(DnType::OrganizationName, "Pentimento (local identity)");
    name
}

/// Valid from the start of this year to ten years later.
fn set_validity(params: &mut CertificateParams) {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let year = 1970 + (seconds / 31_556_952) as i32;
    params.not_before = rcgen::date_time_ymd(year, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
}

/// A random positive 16-byte serial number.
fn serial() -> rcgen::SerialNumber {
    let mut bytes = [0_u8; 16];
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let mut state = seed ^ u128::from(std::process::id()) << 64;
    for byte in &mut bytes {
        state = state
            .wrapping_mul(0x2360_ed05_1fc6_5da4_4385_df64_9fcc_f645)
            .wrapping_add(1);
        *byte = (state >> 120) as u8;
    }
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    rcgen::SerialNumber::from_slice(&bytes)
}

/// Writes a file atomically; `secret` files are readable by the owner only (from before the
/// first byte is written).
fn write_private(path: &Path, bytes: &[u8], secret: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    pentimento_inference::atomic_file::write_with(path, |writer| {
        #[cfg(unix)]
        if secret {
            use std::os::unix::fs::PermissionsExt as _;
            writer
                .get_ref()
                .set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        #[cfg(not(unix))]
        let _ = secret;
        writer.write_all(bytes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_names_the_signer_and_never_the_key() {
        let identity = SigningIdentity::make_local("Ada Painter").expect("identity");
        let shown = format!("{identity:?}");
        assert!(shown.contains("Ada Painter"), "{shown}");
        let key_body = identity.key_pem.lines().nth(1).expect("a PEM body line");
        assert!(!shown.contains(key_body), "{shown}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    }

    #[test]
    fn an_imported_chain_signs_and_replaces_the_local_one() {
        let folder = tempfile::tempdir().expect("folder");
        let local =
            SigningIdentity::load_or_make(&folder.path().join("identity"), "Ada").expect("local");
        assert!(folder.path().join("identity").join(ROOT).is_file());
        // The artist's own chain: here one made the same way, kept as PEM files.
        let own = SigningIdentity::make_local("Ada Painter Studio").expect("own");
        let chain = folder.path().join("chain.pem");
        let key = folder.path().join("key.pem");
        std::fs::write(&chain, &own.chain_pem).expect("write");
        std::fs::write(&key, &own.key_pem).expect("write");
        let imported = SigningIdentity::import(&chain, &key, "Ada Painter").expect("imports");
        imported
            .save(&folder.path().join("identity"))
            .expect("saves");
        let loaded = SigningIdentity::load(&folder.path().join("identity"))
            .expect("reads")
            .expect("there");
        assert_eq!(loaded.kind, IdentityKind::Imported);
        assert_eq!(loaded.chain_pem, own.chain_pem);
        assert_ne!(loaded.chain_pem, local.chain_pem);
        assert_eq!(
            loaded.root_pem, None,
            "the old local root is not this chain's"
        );
        loaded.signer().expect("it can sign");

        let sec1 = folder.path().join("sec1.pem");
        std::fs::write(
            &sec1,
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
        )
        .expect("write");
        let refused = SigningIdentity::import(&chain, &sec1, "Ada").expect_err("SEC1");
        assert!(refused.to_string().contains("openssl pkcs8"), "{refused}");
        let wrong = SigningIdentity::import(&key, &key, "Ada").expect_err("a key is no chain");
        assert!(
            wrong
                .to_string()
                .starts_with("the certificate chain or key cannot sign"),
            "{wrong}"
        );
    }
}
