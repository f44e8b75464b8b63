//! Request bodies: which rendered objects (OpenAPI schema names of the answers) each body
//! type stands for. A client that backs up and restores through the API posts whole objects
//! back, with `_id`, `createdAt`, `stats`...: the fields of those schemas are ignored, any
//! other unknown field is refused (the services' body extractor reads [`Input::RENDERED`]).

use serde::de::DeserializeOwned;

/// A request body type.
pub trait Input: DeserializeOwned {
    /// The OpenAPI schema names of the objects it creates or changes, as the API renders
    /// them: their fields are ignored when posted back.
    const RENDERED: &'static [&'static str] = &[];
    /// Fields it does not know are taken without a word (bodies TheHive reads that way and
    /// that tools fill with more than the service reads: shares, links, bulk ids).
    const OPEN: bool = false;
}

impl Input for serde_json::Value {}

/// Declares body types and the rendered schemas whose fields they ignore.
#[macro_export]
macro_rules! inputs {
    ($($t:ty => [$($r:literal),* $(,)?]),* $(,)?) => {
        $(impl $crate::input::Input for $t {
            const RENDERED: &'static [&'static str] = &[$($r),*];
        })*
    };
}

/// Declares body types that take any field ([`Input::OPEN`]).
#[macro_export]
macro_rules! open_inputs {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::input::Input for $t {
            const OPEN: bool = true;
        })*
    };
}

crate::inputs! {
    crate::casework::InputCase => ["OutputCase"],
    crate::casework::InputAlert => ["OutputAlert"],
    crate::casework::InputObservable => ["OutputObservable"],
    crate::casework::InputTask => ["OutputTask"],
    crate::casework::InputLog => ["OutputLog"],
    crate::casework::InputComment => ["OutputComment"],
    crate::casework::InputProcedure => ["OutputProcedure"],
    crate::casework::InputProcedures => [],
    crate::casework::InputPage => ["OutputPage"],
    crate::casework::InputCustomEvent => ["OutputCustomEvent"],
    crate::casework::InputPageTemplateLinks => ["OutputCaseTemplate"],
    crate::casework::InputCaseTemplate => ["OutputCaseTemplate"],
    crate::hive::InputCustomField => ["OutputCustomField"],
    crate::hive::InputUpdateCustomField => ["OutputCustomField"],
    crate::hive::InputObservableType => ["OutputObservableType"],
    crate::hive::InputOrganisation => ["OutputOrganisation"],
    crate::hive::InputUpdateOrganisation => ["OutputOrganisation"],
    crate::hive::InputProfile => ["OutputProfile"],
    crate::hive::InputUpdateProfile => ["OutputProfile"],
    crate::hive::InputUser => ["OutputUser"],
    crate::hive::InputUpdateUser => ["OutputUser"],
    crate::hive::InputUserOrganisations => [],
    crate::hive::InputSetPassword => [],
    crate::hive::InputChangePassword => [],
    crate::hive::InputLogin => [],
    crate::cortex::InputUser => ["OutputUser"],
    crate::cortex::InputUpdateUser => ["OutputUser"],
    crate::cortex::InputOrganization => ["OutputOrganization"],
    crate::cortex::InputUpdateOrganization => ["OutputOrganization"],
    crate::cortex::InputSetPassword => [],
    crate::cortex::InputChangePassword => [],
    crate::cortex::InputSetKey => [],
    crate::cortex::InputLogin => [],
}

// Bodies that have always taken any field (TheHive ignores what it does not read there).
crate::open_inputs! {
    crate::casework::InputBulkIds,
    crate::casework::InputAlertCase,
    crate::casework::InputCaseLink,
    crate::casework::InputUrlLink,
    crate::casework::InputShares,
    crate::casework::InputOrganisations,
    crate::casework::InputShareProfile,
    crate::casework::InputCaseAccess,
    crate::casework::InputCaseOwner,
    crate::casework::InputApplyCaseTemplate,
    crate::hive::InputOrganisationLink,
    crate::hive::InputOrganisationLinks,
}
