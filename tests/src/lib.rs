//! Shared test harness (being built).
