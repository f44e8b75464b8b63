//! Rules as types: permissions and profiles, names and ids.

pub mod permissions;
