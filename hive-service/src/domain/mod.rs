//! Rules as types: TheHive's enumerations and the checks every input goes through
//! ([`values`]), permissions and profiles ([`permissions`]).

pub mod permissions;
pub mod values;
