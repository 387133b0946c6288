//! A serde serializer that lays one `--json` socket object out as the cells of one `--csv` row:
//! each leaf goes straight into the column its path names (`local.host` → `local_host`), with
//! no `serde_json::Value` tree in between. CSV keeps its "the fields are JSON's" guarantee, at
//! the speed of the JSON printer (issue 21: CSV was 2.6x JSON, building a Value per socket).

use std::fmt::{self, Display, Write as _};

use serde::Serialize;
use serde::ser::{self, Impossible, SerializeSeq, SerializeStruct};

use crate::format::push_escaped;

/// Where each leaf of a socket object goes: the columns by their JSON paths (one or two keys).
pub struct Layout {
    /// Top-level keys and their column.
    top: Vec<(&'static str, usize)>,
    /// A nested object's key, and its keys with their columns.
    nested: Vec<(&'static str, Vec<(&'static str, usize)>)>,
    /// The column of the owners' pids (`processes`), if any.
    owners: &'static str,
}

impl Layout {
    /// `columns`: each column's path in a socket object; a one-key path naming `owners` is the
    /// array of pids, collected rather than written.
    pub fn new(columns: &[&[&'static str]], owners: &'static str) -> Layout {
        let mut top = Vec::new();
        let mut nested: Vec<(&'static str, Vec<(&'static str, usize)>)> = Vec::new();
        for (column, path) in columns.iter().enumerate() {
            match path {
                [key] if *key == owners => {}
                [key] => top.push((*key, column)),
                [parent, key] => match nested.iter_mut().find(|(p, _)| p == parent) {
                    Some((_, keys)) => keys.push((*key, column)),
                    None => nested.push((*parent, vec![(*key, column)])),
                },
                _ => {}
            }
        }
        Layout {
            top,
            nested,
            owners,
        }
    }
}

/// One row being filled: a cell per column (emptied, never freed, between rows) and the pids
/// of the owners array.
pub struct Row<'l> {
    layout: &'l Layout,
    pub cells: Vec<String>,
    pub pids: Vec<u64>,
    /// The keys from the socket object down to the value being written.
    path: Vec<&'static str>,
    /// Display text of a `collect_str` value, before it is escaped into its cell.
    scratch: String,
}

impl<'l> Row<'l> {
    pub fn new(layout: &'l Layout, columns: usize) -> Row<'l> {
        Row {
            layout,
            cells: vec![String::new(); columns],
            pids: Vec::new(),
            path: Vec::with_capacity(4),
            scratch: String::new(),
        }
    }

    /// Empty every cell and lay `value` (a socket object) out in them.
    pub fn fill<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        for cell in &mut self.cells {
            cell.clear();
        }
        self.pids.clear();
        self.path.clear();
        value.serialize(&mut *self)
    }

    /// The cell the current path names; `None` for a value no column shows.
    fn cell(&mut self) -> Option<&mut String> {
        let column = match self.path.as_slice() {
            [key] => find(&self.layout.top, key),
            [parent, key] => (self.layout.nested.iter())
                .find(|(p, _)| p == parent)
                .and_then(|(_, keys)| find(keys, key)),
            _ => None,
        }?;
        self.cells.get_mut(column)
    }

    fn in_owners(&self) -> bool {
        self.path.as_slice() == [self.layout.owners]
    }

    fn number(&mut self, value: impl itoa::Integer) -> Result<(), Error> {
        if let Some(cell) = self.cell() {
            cell.push_str(itoa::Buffer::new().format(value));
        }
        Ok(())
    }
}

fn find(keys: &[(&'static str, usize)], key: &str) -> Option<usize> {
    keys.iter()
        .find(|(k, _)| *k == key)
        .map(|&(_, column)| column)
}

#[derive(Debug)]
pub struct Error(String);

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(message: T) -> Error {
        Error(message.to_string())
    }
}

macro_rules! numbers {
    ($($method:ident: $type:ty),*) => {
        $(fn $method(self, value: $type) -> Result<(), Error> {
            self.number(value)
        })*
    };
}

impl ser::Serializer for &mut Row<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Self;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), Error>;

    numbers!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
             serialize_u8: u8, serialize_u16: u16);

    fn serialize_u32(self, value: u32) -> Result<(), Error> {
        self.serialize_u64(u64::from(value))
    }

    fn serialize_u64(self, value: u64) -> Result<(), Error> {
        if self.in_owners() {
            self.pids.push(value);
            return Ok(());
        }
        self.number(value)
    }

    fn serialize_f32(self, value: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(value))
    }

    fn serialize_f64(self, value: f64) -> Result<(), Error> {
        // As JSON writes it: a whole number keeps its `.0`.
        let text = serde_json::to_string(&value).map_err(|e| Error(e.to_string()))?;
        if let Some(cell) = self.cell() {
            cell.push_str(&text);
        }
        Ok(())
    }

    fn serialize_bool(self, value: bool) -> Result<(), Error> {
        if let Some(cell) = self.cell() {
            cell.push_str(if value { "true" } else { "false" });
        }
        Ok(())
    }

    fn serialize_char(self, value: char) -> Result<(), Error> {
        self.serialize_str(value.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, value: &str) -> Result<(), Error> {
        if let Some(cell) = self.cell() {
            push_escaped(cell, value);
        }
        Ok(())
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let written = write!(scratch, "{value}");
        let result = written
            .map_err(|_| Error("formatting a value".into()))
            .and_then(|()| self.serialize_str(&scratch));
        self.scratch = scratch;
        result
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(Error("bytes have no CSV cell".into()))
    }

    fn serialize_none(self) -> Result<(), Error> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(Error("an enum variant has no CSV cell".into()))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self, Error> {
        Ok(self)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(Error("a tuple has no CSV cell".into()))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(Error("a tuple has no CSV cell".into()))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Error("an enum variant has no CSV cell".into()))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(Error("a map has no CSV cell".into()))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(Error("an enum variant has no CSV cell".into()))
    }
}

impl SerializeStruct for &mut Row<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.path.push(key);
        let result = value.serialize(&mut **self);
        self.path.pop();
        result
    }

    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

/// Only the owners' array is a column (collected as pids); any other array has no cell.
impl SerializeSeq for &mut Row<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if self.in_owners() {
            value.serialize(&mut **self)
        } else {
            Ok(())
        }
    }

    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}
