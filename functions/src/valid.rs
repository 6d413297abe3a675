//! Values valid by construction (parse, don't validate): a request field decodes into one of
//! these or is refused with the rule it broke, so handlers and services never check again.
//! Each reads a JSON value of any type and words its own refusal, which the body decoder
//! (`http::extract::decode`) reports with the field's path.

use std::fmt;
use std::ops::Deref;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Text that is not blank and holds at most `MAX` characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "String")]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> TryFrom<Value> for Text<MAX> {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) if !text.trim().is_empty() && text.chars().count() <= MAX => {
                Ok(Self(text))
            }
            _ => Err(format!(
                "must be a non-empty string of at most {MAX} characters"
            )),
        }
    }
}

impl<const MAX: usize> Deref for Text<MAX> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> From<Text<MAX>> for String {
    fn from(text: Text<MAX>) -> Self {
        text.0
    }
}

/// A whole number from `MIN` to `MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value")]
pub struct Count<const MIN: u64, const MAX: u64>(u64);

impl<const MIN: u64, const MAX: u64> Count<MIN, MAX> {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<const MIN: u64, const MAX: u64> TryFrom<Value> for Count<MIN, MAX> {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, String> {
        value
            .as_u64()
            .filter(|count| (MIN..=MAX).contains(count))
            .map(Self)
            .ok_or_else(|| format!("must be an integer from {MIN} to {MAX}"))
    }
}

/// An array of `MIN` to `MAX` items. Reading stops at the first item past `MAX`, and each
/// item's errors keep their index in the path (`destinations[2].connectionId`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct List<T, const MIN: usize, const MAX: usize>(Vec<T>);

impl<T, const MIN: usize, const MAX: usize> List<T, MIN, MAX> {
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MIN: usize, const MAX: usize> Deref for List<T, MIN, MAX> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>, const MIN: usize, const MAX: usize> Deserialize<'de>
    for List<T, MIN, MAX>
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Items<T, const MIN: usize, const MAX: usize>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>, const MIN: usize, const MAX: usize> Visitor<'de>
            for Items<T, MIN, MAX>
        {
            type Value = List<T, MIN, MAX>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                write!(formatter, "an array of {MIN} to {MAX} items")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
                let mut list = Vec::new();
                while let Some(item) = items.next_element()? {
                    if list.len() == MAX {
                        return Err(serde::de::Error::invalid_length(MAX + 1, &self));
                    }
                    list.push(item);
                }
                if list.len() < MIN {
                    return Err(serde::de::Error::invalid_length(list.len(), &self));
                }
                Ok(List(list))
            }
        }

        deserializer.deserialize_seq(Items(std::marker::PhantomData))
    }
}

/// For a field whose `null` means something else than its absence (`"apiKey": null` removes
/// the key, no `apiKey` keeps it): with `#[serde(default, deserialize_with = "present")]`,
/// absent is `None` and `null` is `Some(None)`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}
