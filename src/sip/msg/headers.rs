//! The ordered header list of one message. Values are `Bytes` slices of the received
//! datagram (zero-copy); typed views are parsed only when asked for.

use super::header_name::HeaderName;
use bytes::Bytes;

/// One header field: its name and its raw value (folding already removed, trimmed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: Bytes,
}

/// Header fields in wire order. Comma-separated values of one name may stand in one field
/// or several (RFC 3261 §7.3.1); typed accessors handle both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<Header>,
}

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Headers { fields: Vec::new() }
    }

    /// An empty list with room for `fields` fields, so a parsed message's list is
    /// allocated once instead of grown field by field.
    pub fn with_capacity(fields: usize) -> Self {
        Headers { fields: Vec::with_capacity(fields) }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&Bytes> {
        self.fields.iter().find(|h| &h.name == name).map(|h| &h.value)
    }

    /// The first value of `name` as UTF-8 text (None if absent or not UTF-8).
    pub fn get_str(&self, name: &HeaderName) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every field value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.fields.iter().filter(move |h| &h.name == name).map(|h| &h.value)
    }

    /// How many fields carry `name`.
    pub fn count(&self, name: &HeaderName) -> usize {
        self.fields.iter().filter(|h| &h.name == name).count()
    }

    /// Appends a field.
    pub fn push(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        self.fields.push(Header { name, value: value.into() });
    }

    /// Inserts a field before all others (a proxy's Via, for instance).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        self.fields.insert(0, Header { name, value: value.into() });
    }

    /// Replaces every field of `name` with one field, keeping the first one's position.
    pub fn set(&mut self, name: HeaderName, value: impl Into<Bytes>) {
        let value = value.into();
        match self.fields.iter().position(|h| h.name == name) {
            Some(first) => {
                self.fields[first].value = value;
                let mut index = 0;
                self.fields.retain(|h| {
                    let keep = index <= first || h.name != name;
                    index += 1;
                    keep
                });
            }
            None => self.fields.push(Header { name, value }),
        }
    }

    /// Replaces the value of the first field of `name` in place; false if there is none.
    pub fn replace_first(&mut self, name: &HeaderName, value: impl Into<Bytes>) -> bool {
        match self.fields.iter_mut().find(|h| &h.name == name) {
            Some(field) => {
                field.value = value.into();
                true
            }
            None => false,
        }
    }

    /// Removes every field of `name`.
    pub fn remove(&mut self, name: &HeaderName) {
        self.fields.retain(|h| &h.name != name);
    }

    /// Removes the first field of `name` and returns its value.
    pub fn remove_first(&mut self, name: &HeaderName) -> Option<Bytes> {
        let index = self.fields.iter().position(|h| &h.name == name)?;
        Some(self.fields.remove(index).value)
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.fields.iter()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}
