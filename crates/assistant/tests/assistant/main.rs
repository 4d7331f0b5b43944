//! Integration tests of the understanding: the corpus score, properties over arbitrary input and
//! the JSON-lines interface. One test binary for the crate.

mod corpus;
mod fuzz;
mod json_lines;
mod properties;
