//! Black-box tests over HTTP. Each test starts the real app on port 0 with a fresh database:
//! a temporary SQLite file, or, when TEST_DATABASE_URL names a PostgreSQL server, a database of
//! its own there, dropped afterwards.

mod attacks;
mod audit;
mod auth;
mod concurrency;
mod database;
mod demo;
mod helpers;
mod holds;
mod ledger;
mod levels;
mod membership;
mod openapi;
mod problems;
mod processes;
mod roles;
mod spending;
mod users;
mod volunteering;
