//! Sensor builds (for sensor-update policies) and sensor installers
//! (scopes `sensor-update-policies:read` and `sensor-installers:read`,
//! console "Sensor update policies: Read" and "Sensor download: Read").
//!
//! ```no_run
//! # async fn demo(client: falcon::Client) -> falcon::Result<()> {
//! use falcon::fql::Fql;
//! use falcon::sensors::InstallerQuery;
//!
//! let builds = client.sensors().builds(Some("windows")).await?;
//! println!("{} windows builds", builds.len());
//! let filter = Fql::new().eq("platform", "windows").build()?;
//! let installers = client.sensors().installers(&InstallerQuery::filtered(filter)).await?;
//! if let Some(latest) = installers.first() {
//!     let bytes = client.sensors().download(&latest.sha256).await?;
//!     println!("{} bytes of {}", bytes.len(), latest.name);
//! }
//! println!("install with CCID {}", client.sensors().ccid().await?);
//! # Ok(()) }
//! ```

use serde_json::Value;

use crate::client::{ApiRequest, Client};
use crate::endpoint::{Endpoint, Method};
use crate::error::{Error, Result};
use crate::model::{boolean, decode_error, id_strings, int, present, strings, text, time};
use crate::paging::{Batch, BatchSpec, IdsIn, OffsetPaging, collect_offset_paged, lookup_ids};

/// Scope of the build listing.
pub const SCOPE_BUILDS: &str = "sensor-update-policies:read";
/// Scope of the installer calls.
pub const SCOPE_INSTALLERS: &str = "sensor-installers:read";

/// `GET /policy/combined/sensor-update-builds/v1`
/// (queryCombinedSensorUpdateBuilds).
pub const BUILDS: Endpoint = Endpoint::read(
    Method::Get,
    "/policy/combined/sensor-update-builds/v1",
    SCOPE_BUILDS,
);
/// `GET /sensors/queries/installers/v2` (GetSensorInstallersByQueryV2):
/// installer ids (SHA-256).
pub const QUERY_INSTALLERS: Endpoint = Endpoint::read(
    Method::Get,
    "/sensors/queries/installers/v2",
    SCOPE_INSTALLERS,
);
/// `GET /sensors/combined/installers/v2` (GetCombinedSensorInstallersByQueryV2).
pub const COMBINED_INSTALLERS: Endpoint = Endpoint::read(
    Method::Get,
    "/sensors/combined/installers/v2",
    SCOPE_INSTALLERS,
);
/// `GET /sensors/entities/installers/v2` (GetSensorInstallersEntitiesV2;
/// may answer 207).
pub const GET_INSTALLERS: Endpoint = Endpoint::read(
    Method::Get,
    "/sensors/entities/installers/v2",
    SCOPE_INSTALLERS,
);
/// `GET /sensors/entities/download-installer/v2` (DownloadSensorInstallerByIdV2):
/// the installer binary.
pub const DOWNLOAD_INSTALLER: Endpoint = Endpoint::read(
    Method::Get,
    "/sensors/entities/download-installer/v2",
    SCOPE_INSTALLERS,
);
/// `GET /sensors/queries/installers/ccid/v1` (GetSensorInstallersCCIDByQuery).
pub const CCID: Endpoint = Endpoint::read(
    Method::Get,
    "/sensors/queries/installers/ccid/v1",
    SCOPE_INSTALLERS,
);

/// Page size of the installer listing (the API maximum).
pub const PAGE_LIMIT: u32 = 500;
/// Installer ids (SHA-256) per details request.
pub const GET_IDS: usize = 200;

/// A sensor build a sensor-update policy can pin.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SensorBuild {
    /// The build id, e.g. `17603` or `17603|n-1|tagged|1`.
    pub build: String,
    /// `windows`, `mac`, `linux`, …
    pub platform: String,
    /// The sensor version.
    pub sensor_version: String,
    /// `prod` or `early_adopter`.
    pub stage: String,
    /// Whether it is a long-term-support build.
    pub is_lts_build: bool,
    /// The whole object as the API returned it.
    pub raw: Value,
}

/// A sensor installer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Installer {
    /// The SHA-256, the installer's id.
    pub sha256: String,
    /// The file name.
    pub name: String,
    /// `windows`, `mac`, `linux`.
    pub platform: String,
    /// OS name.
    pub os: String,
    /// The sensor version.
    pub version: String,
    /// Size in bytes.
    pub file_size: Option<i64>,
    /// File type (`exe`, `pkg`, `rpm`, …).
    pub file_type: String,
    /// Release date.
    pub release_date: Option<jiff::Timestamp>,
    /// Architectures.
    pub architectures: Vec<String>,
    /// The whole object as the API returned it.
    pub raw: Value,
}

impl Installer {
    fn from_json(raw: Value) -> Result<Self> {
        let sha256 = present(&raw, "sha256")
            .ok_or_else(|| decode_error(&GET_INSTALLERS, "an installer has no `sha256`"))?;
        Ok(Self {
            sha256,
            name: text(&raw, "name"),
            platform: text(&raw, "platform"),
            os: text(&raw, "os"),
            version: text(&raw, "version"),
            file_size: int(&raw, "file_size"),
            file_type: text(&raw, "file_type"),
            release_date: time(&raw, "release_date"),
            architectures: strings(&raw, "architectures"),
            raw,
        })
    }
}

/// Which installers to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstallerQuery {
    /// An FQL filter, e.g. `platform:'windows'`.
    pub filter: Option<String>,
    /// A sort such as `release_date|desc`.
    pub sort: Option<String>,
}

impl InstallerQuery {
    /// Every installer.
    pub fn all() -> Self {
        Self::default()
    }

    /// The installers matching an FQL filter.
    pub fn filtered(filter: impl Into<String>) -> Self {
        Self {
            filter: Some(filter.into()),
            sort: None,
        }
    }
}

/// Sensor build and installer calls; get one with [`Client::sensors`].
#[derive(Debug, Clone, Copy)]
pub struct Sensors<'a> {
    client: &'a Client,
}

impl Client {
    /// Sensor build and installer calls.
    pub fn sensors(&self) -> Sensors<'_> {
        Sensors { client: self }
    }
}

impl Sensors<'_> {
    /// The sensor builds, optionally of one platform.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] without `sensor-update-policies:read`; any
    /// error of [`Client::execute`].
    pub async fn builds(&self, platform: Option<&str>) -> Result<Vec<SensorBuild>> {
        let response = self
            .client
            .execute(ApiRequest::new(BUILDS).query_opt("platform", platform))
            .await?
            .error_for_errors(&BUILDS)?;
        Ok(response
            .envelope
            .resource_list()
            .into_iter()
            .map(|raw| SensorBuild {
                build: text(&raw, "build"),
                platform: text(&raw, "platform"),
                sensor_version: text(&raw, "sensor_version"),
                stage: text(&raw, "stage"),
                is_lts_build: boolean(&raw, "is_lts_build").unwrap_or(false),
                raw,
            })
            .collect())
    }

    /// The SHA-256 ids of every installer matching `query`.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] without `sensor-installers:read`; any error of
    /// [`Client::execute`].
    pub async fn installer_ids(&self, query: &InstallerQuery) -> Result<Vec<String>> {
        let base = ApiRequest::new(QUERY_INSTALLERS)
            .filter_and_sort(query.filter.as_deref(), query.sort.as_deref());
        let values = collect_offset_paged(
            self.client,
            base,
            OffsetPaging {
                limit: PAGE_LIMIT,
                window: None,
                max: None,
            },
        )
        .await?;
        id_strings(&QUERY_INSTALLERS, values)
    }

    /// Every installer matching `query`, with details.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] without `sensor-installers:read`;
    /// [`Error::Decode`] for an installer without `sha256`; any error of
    /// [`Client::execute`].
    pub async fn installers(&self, query: &InstallerQuery) -> Result<Vec<Installer>> {
        let base = ApiRequest::new(COMBINED_INSTALLERS)
            .filter_and_sort(query.filter.as_deref(), query.sort.as_deref());
        let values = collect_offset_paged(
            self.client,
            base,
            OffsetPaging {
                limit: PAGE_LIMIT,
                window: None,
                max: None,
            },
        )
        .await?;
        values.into_iter().map(Installer::from_json).collect()
    }

    /// Installers by SHA-256, in the order given (a 207 answer is a partial
    /// success).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Forbidden`]
    /// without `sensor-installers:read`; any error of [`Client::execute`].
    pub async fn get<S: AsRef<str>>(&self, sha256s: &[S]) -> Result<Batch<Installer>> {
        lookup_ids(
            self.client,
            &ApiRequest::new(GET_INSTALLERS),
            sha256s,
            "installer sha256",
            BatchSpec {
                ids_in: IdsIn::Query("ids"),
                max_ids: GET_IDS,
                id_key: "sha256",
            },
            Installer::from_json,
        )
        .await
    }

    /// Downloads an installer binary.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an empty id; [`Error::Api`] (404) for an
    /// unknown one; [`Error::Forbidden`] without `sensor-installers:read`;
    /// any error of [`Client::execute`].
    pub async fn download(&self, sha256: &str) -> Result<Vec<u8>> {
        let sha256 = sha256.trim();
        if sha256.is_empty() {
            return Err(Error::InvalidInput("installer sha256 is empty".into()));
        }
        let response = self
            .client
            .execute(
                ApiRequest::new(DOWNLOAD_INSTALLER)
                    .query("id", sha256)
                    .binary(),
            )
            .await?;
        Ok(response.bytes.unwrap_or_default())
    }

    /// The customer's CCID (CID with checksum, e.g. `<32 hex>-1A`), for
    /// sensor installation.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] without `sensor-installers:read`;
    /// [`Error::Decode`] when no CCID is returned; any error of
    /// [`Client::execute`].
    pub async fn ccid(&self) -> Result<String> {
        let response = self
            .client
            .execute(ApiRequest::new(CCID))
            .await?
            .error_for_errors(&CCID)?;
        response
            .envelope
            .resource_strings()
            .into_iter()
            .next()
            .ok_or_else(|| decode_error(&CCID, "no ccid returned"))
    }
}
