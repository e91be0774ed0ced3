//! `serde`: hosts and endpoints as their text (`"broker.local:1883"`), borrowed
//! from the input when deserializing.

use core::fmt;

use serde::de::{Error, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Endpoint, Host};

impl Serialize for Endpoint<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for Host<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

struct BorrowedStr;

impl<'de> Visitor<'de> for BorrowedStr {
    type Value = &'de str;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a borrowed string")
    }
    fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<&'de str, E> {
        Ok(v)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Endpoint<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = deserializer.deserialize_str(BorrowedStr)?;
        Endpoint::parse(text).map_err(D::Error::custom)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Host<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = deserializer.deserialize_str(BorrowedStr)?;
        Host::parse(text).map_err(D::Error::custom)
    }
}
