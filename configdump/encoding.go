package configdump

import (
	"bytes"
	"errors"
	"fmt"
)

// utf8BOM is the byte order mark some editors (and Windows tools) write at the start of UTF-8
// text.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// TrimBOM returns data without a leading UTF-8 byte order mark.
func TrimBOM(data []byte) []byte { return bytes.TrimPrefix(data, utf8BOM) }

// HasBOM reports whether data starts with a UTF-8 byte order mark.
func HasBOM(data []byte) bool { return bytes.HasPrefix(data, utf8BOM) }

// ErrEncoding is wrapped by the error for a document that is not UTF-8 text: compressed, an
// archive, or UTF-16.
var ErrEncoding = errors.New("not UTF-8 text")

// encodings are what a document that is not JSON or YAML often turns out to be, by its first
// bytes, with what to do about it.
var encodings = []struct {
	magic []byte
	what  string
}{
	{[]byte{0x1f, 0x8b}, "this looks like a gzip file; run gunzip first (or zcat FILE | proxyctl ... -f -)"},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, "this looks like a zstd file; run unzstd first (or zstdcat FILE | proxyctl ... -f -)"},
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, "this looks like an xz file; run unxz first (or xzcat FILE | proxyctl ... -f -)"},
	{[]byte("BZh"), "this looks like a bzip2 file; run bunzip2 first (or bzcat FILE | proxyctl ... -f -)"},
	{[]byte("PK\x03\x04"), "this looks like a zip archive; unzip it and give the config dump inside"},
	{[]byte{0xff, 0xfe}, "this looks like UTF-16 text (as Windows PowerShell writes it); convert it to UTF-8 first: iconv -f UTF-16 -t UTF-8 FILE > dump.json"},
	{[]byte{0xfe, 0xff}, "this looks like UTF-16 text; convert it to UTF-8 first: iconv -f UTF-16 -t UTF-8 FILE > dump.json"},
}

// ExplainEncoding returns, for a document whose first bytes are head and that failed to parse
// with err, an error naming what the document is when it is compressed, an archive or UTF-16
// text; otherwise err.
func ExplainEncoding(head []byte, err error) error {
	if err == nil {
		return nil
	}
	for _, e := range encodings {
		if bytes.HasPrefix(head, e.magic) {
			return fmt.Errorf("%w: %s", ErrEncoding, e.what)
		}
	}
	if looksUTF16(head) {
		return fmt.Errorf("%w: this looks like UTF-16 text (a NUL byte beside each character); convert it to UTF-8 first: iconv -f UTF-16 -t UTF-8 FILE > dump.json", ErrEncoding)
	}
	return err
}

// looksUTF16 recognises UTF-16 without a byte order mark from its first characters: ASCII,
// each beside a NUL byte.
func looksUTF16(head []byte) bool {
	if len(head) < 2 {
		return false
	}
	n := min(len(head), 64) &^ 1
	le, be := 0, 0
	for i := 0; i < n; i += 2 {
		a, b := head[i], head[i+1]
		switch {
		case a != 0 && a < 0x80 && b == 0:
			le++
		case a == 0 && b != 0 && b < 0x80:
			be++
		default:
			return false
		}
	}
	return le == n/2 || be == n/2
}
