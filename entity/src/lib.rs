//! SeaORM entities: the shape of each table, nothing more.
//!
//! Amounts are integer minor units (hundredths of a point) and times are UTC. Rules live in the
//! service's `domain` module and queries in its `store` module; these types never cross the HTTP
//! boundary.

pub mod account;
pub mod activity;
pub mod audit_event;
pub mod candidate;
pub mod category;
pub mod category_rule;
pub mod hazard_report;
pub mod hazard_report_event;
pub mod hold;
pub mod hour_log;
pub mod idempotency_key;
pub mod journal_entry;
pub mod ledger_head;
pub mod level;
pub mod lot;
pub mod membership;
pub mod membership_event;
pub mod membership_rule;
pub mod partner;
pub mod partner_level;
pub mod pledge;
pub mod pool;
pub mod posting;
pub mod redemption;
pub mod refresh_token;
pub mod reward;
pub mod signal_daily;
pub mod signal_event;
pub mod signal_subject;
pub mod squad;
pub mod squad_member;
pub mod user;
