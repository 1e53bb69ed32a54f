//! The browser assets, embedded in the binary at build time (no Node toolchain): one table,
//! [`ASSETS`], lists every file of `assets/` with its content type.

/// One embedded file.
pub(crate) struct Asset {
    /// Its name under `/assets/` (`index.html` is also served at `/`).
    pub(crate) name: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $name)),
        }
    };
}

/// Every file of `assets/`: add a line here for each new file.
pub(crate) static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("folder.svg", "image/svg+xml"),
    // The page's JavaScript modules: app.js imports the others.
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("routes.js", "text/javascript; charset=utf-8"),
    asset!("upload.js", "text/javascript; charset=utf-8"),
    asset!("transfers.js", "text/javascript; charset=utf-8"),
    asset!("view-login.js", "text/javascript; charset=utf-8"),
    asset!("view-buckets.js", "text/javascript; charset=utf-8"),
    asset!("view-objects.js", "text/javascript; charset=utf-8"),
    asset!("view-object.js", "text/javascript; charset=utf-8"),
    asset!("view-uploads.js", "text/javascript; charset=utf-8"),
    asset!("view-policy.js", "text/javascript; charset=utf-8"),
    asset!("view-iam.js", "text/javascript; charset=utf-8"),
];

/// The asset named `name` (a plain file name: no directories).
pub(crate) fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_found_by_name_and_names_are_plain() {
        for a in ASSETS {
            assert!(std::ptr::eq(find(a.name).unwrap(), a));
            assert!(
                !a.name.contains('/') && !a.name.starts_with('.'),
                "{}",
                a.name
            );
            assert!(!a.bytes.is_empty(), "{} is empty", a.name);
        }
        assert!(find("index.html").is_some());
        assert!(find("../Cargo.toml").is_none());
        assert!(find("").is_none());
    }

    #[test]
    fn every_file_of_the_directory_is_in_the_table() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(find(&name).is_some(), "assets/{name} is not in ASSETS");
        }
    }
}
