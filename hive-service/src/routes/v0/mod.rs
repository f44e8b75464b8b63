//! TheHive's legacy API (v0, `/api/...`), so that thehive4py 1.x feeders and scripts work
//! unmodified. The routes run on the same store and domain code as `/api/v1`; only the
//! shapes differ: `id` beside `_id`, `_type` names (`alert`, `case`, `case_artifact`,
//! `case_task`, `case_task_log`), `createdBy`/`createdAt`, alert `artifacts` embedded, case
//! `caseId` and `owner`, custom fields as `{name: {type: value, order}}`, and the statuses
//! TheHive 4 computed (alert New/Updated/Ignored/Imported, case Open/Resolved/Duplicated).
//! Every object is rendered by the v1 renderer first, then reshaped by [`crate::render::v0`],
//! so that the two APIs cannot disagree on a value.

pub mod alerts;
pub mod cases;
pub mod misc;
pub mod search;

use crate::render::v0::*;
