//! Reading and writing protobuf's wire format for ONNX files held in memory: fields are walked
//! without a schema, so a rewrite keeps every field it does not touch byte for byte, including
//! ones newer than this code.

use std::ops::Range;

pub(crate) const VARINT: u64 = 0;
pub(crate) const FIXED64: u64 = 1;
pub(crate) const LENGTH_DELIMITED: u64 = 2;
pub(crate) const FIXED32: u64 = 5;

/// Appends a protobuf varint.
pub(crate) fn put_varint(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends a length-delimited protobuf field.
pub(crate) fn put_bytes(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    put_varint(field << 3 | LENGTH_DELIMITED, out);
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// One field of a protobuf message held in memory.
pub(crate) struct Field<'a> {
    pub number: u64,
    pub wire_type: u64,
    /// The value of a varint field.
    pub varint: u64,
    /// The contents of a length-delimited field and where they start in the whole buffer.
    pub payload: (&'a [u8], usize),
    /// The whole field, key included, in the whole buffer's offsets.
    pub range: Range<usize>,
}

impl<'a> Field<'a> {
    pub fn message(&self) -> Result<(&'a [u8], usize), String> {
        if self.wire_type == LENGTH_DELIMITED {
            Ok(self.payload)
        } else {
            Err(corrupt("a section has the wrong wire type"))
        }
    }

    pub fn text(&self) -> Result<String, String> {
        String::from_utf8(self.message()?.0.to_vec()).map_err(|_| corrupt("a name is not UTF-8"))
    }

    /// A message field read as a name and a number: the text of its field `text_field` and the
    /// varint of its field `number_field` (empty and 0 when absent), e.g. an attribute's name
    /// and integer or an opset import's domain and version.
    pub fn text_and_varint(
        &self,
        text_field: u64,
        number_field: u64,
    ) -> Result<(String, u64), String> {
        let (mut text, mut number) = (String::new(), 0);
        for part in Fields::new(self.message()?.0, 0) {
            let part = part?;
            if part.number == text_field {
                text = part.text()?;
            } else if part.number == number_field {
                number = part.varint;
            }
        }
        Ok((text, number))
    }
}

/// The fields of a message: `bytes`, which starts at `start` in the whole buffer.
pub(crate) struct Fields<'a> {
    bytes: &'a [u8],
    start: usize,
    position: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    pub fn new(bytes: &'a [u8], start: usize) -> Self {
        Self {
            bytes,
            start,
            position: 0,
            failed: false,
        }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0_u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .bytes
                .get(self.position)
                .ok_or_else(|| corrupt("the file ends inside a number (truncated?)"))?;
            self.position += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("a number is longer than ten bytes"))
    }

    fn next_field(&mut self) -> Result<Field<'a>, String> {
        let begin = self.position;
        let key = self.varint()?;
        let (number, wire_type) = (key >> 3, key & 7);
        let mut varint = 0;
        let mut payload: (&'a [u8], usize) = (&[], self.start + self.position);
        match wire_type {
            VARINT => varint = self.varint()?,
            FIXED64 | FIXED32 => {
                let size = if wire_type == FIXED64 { 8 } else { 4 };
                self.position += size;
            }
            LENGTH_DELIMITED => {
                let size = self.varint()? as usize;
                let end = self
                    .position
                    .checked_add(size)
                    .filter(|&end| end <= self.bytes.len())
                    .ok_or_else(|| {
                        corrupt("a section runs past the end of the file (truncated?)")
                    })?;
                payload = (&self.bytes[self.position..end], self.start + self.position);
                self.position = end;
            }
            _ => return Err(corrupt("unknown protobuf wire type")),
        }
        if self.position > self.bytes.len() {
            return Err(corrupt(
                "a field runs past the end of the file (truncated?)",
            ));
        }
        Ok(Field {
            number,
            wire_type,
            varint,
            payload,
            range: self.start + begin..self.start + self.position,
        })
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.position >= self.bytes.len() {
            return None;
        }
        let field = self.next_field();
        self.failed = field.is_err();
        Some(field)
    }
}

pub(crate) fn packed_varints(bytes: &[u8]) -> Result<impl Iterator<Item = u64>, String> {
    let mut reader = Fields::new(bytes, 0);
    let mut values = Vec::new();
    while reader.position < bytes.len() {
        values.push(reader.varint()?);
    }
    Ok(values.into_iter())
}

pub(crate) fn corrupt(reason: &str) -> String {
    format!("not a valid ONNX file: {reason}")
}
