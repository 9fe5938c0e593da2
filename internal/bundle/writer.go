package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Spool keeps the body of a bundle being written, the documents' members, until the manifest
// is written before it: a temporary file, say.
type Spool interface {
	io.Writer
	io.ReaderAt
}

// Writer writes a bundle. Documents are compressed into the spool as they are added, one at a
// time and streaming, each in a gzip member of its own; Finish writes the manifest's member to
// the output, then copies the spool after it. Memory stays that of one gzip compressor whatever
// the size of the documents. A Writer is not safe for concurrent use.
type Writer struct {
	body    Spool
	n       int64 // bytes written to body
	gz      *gzip.Writer
	modTime time.Time
	// err is the first error: once the body is broken, every call returns it.
	err error
}

// NewWriter returns a writer of a bundle whose entries are dated modTime.
func NewWriter(body Spool, modTime time.Time) *Writer {
	w := &Writer{body: body, modTime: modTime.Truncate(time.Second)}
	// The fastest level: a capture is taken during an incident; JSON still shrinks about 8x.
	w.gz, _ = gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}

// counter counts the bytes written through it.
type counter struct {
	w io.Writer
	n *int64
}

func (c counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// Add archives the document at path (FOLDER/NAME), of exactly size bytes read from r, in a
// member of its own. It returns where the member starts in the body (File.Offset) and the
// sha256 of the document.
func (w *Writer) Add(path string, size int64, r io.Reader) (offset int64, sum string, err error) {
	if w.err != nil {
		return 0, "", w.err
	}
	offset = w.n
	h := sha256.New()
	err = w.member(counter{w: w.body, n: &w.n}, path, size, io.TeeReader(r, h))
	if err != nil {
		w.err = fmt.Errorf("archiving %s: %w", path, err)
		return 0, "", w.err
	}
	return offset, hex.EncodeToString(h.Sum(nil)), nil
}

// member writes one tar entry as a gzip member.
func (w *Writer) member(out io.Writer, path string, size int64, r io.Reader) error {
	w.gz.Reset(out)
	tw := tar.NewWriter(w.gz)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: path, Mode: 0o644, Size: size, ModTime: w.modTime}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, io.LimitReader(r, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("the document has %d bytes, not the %d announced", n, size)
	}
	if m, _ := r.Read(make([]byte, 1)); m > 0 {
		return fmt.Errorf("the document has more than the %d bytes announced", size)
	}
	// The entry's padding; not Close, which would end the archive.
	if err := tw.Flush(); err != nil {
		return err
	}
	return w.gz.Close()
}

// Finish ends the archive: it records in m the size of the body, writes the manifest's member
// to out, then the body. It does not close out.
func (w *Writer) Finish(out io.Writer, m *Manifest) error {
	if w.err != nil {
		return w.err
	}
	// The end of the archive, two zero blocks, in a last member.
	w.gz.Reset(counter{w: w.body, n: &w.n})
	if _, err := w.gz.Write(make([]byte, 2*512)); err != nil {
		return fmt.Errorf("ending the archive: %w", err)
	}
	if err := w.gz.Close(); err != nil {
		return fmt.Errorf("ending the archive: %w", err)
	}
	m.Kind, m.FormatVersion, m.BodySize = Kind, FormatVersion, w.n
	doc, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	doc = append(doc, '\n')
	if err := w.member(out, ManifestName, int64(len(doc)), bytes.NewReader(doc)); err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	if _, err := io.Copy(out, io.NewSectionReader(w.body, 0, w.n)); err != nil {
		return fmt.Errorf("copying the documents into the bundle: %w", err)
	}
	w.err = errors.New("bundle: the writer is finished")
	return nil
}
