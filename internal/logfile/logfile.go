// Package logfile is a size-rotated log file: conductor.log, conductor.log.1 ...
// It is safe for concurrent writers (slog handlers write whole lines).
package logfile

import (
	"fmt"
	"os"
	"sync"
)

// Writer appends to a file and rotates it once it grows past MaxBytes.
type Writer struct {
	path     string
	maxBytes int64
	maxFiles int

	mu   sync.Mutex
	file *os.File
	size int64
}

// Open opens (or creates, mode 0600) path for appending.
func Open(path string, maxBytes int64, maxFiles int) (*Writer, error) {
	w := &Writer{path: path, maxBytes: maxBytes, maxFiles: maxFiles}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open log %s: %w", w.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat log %s: %w", w.path, err)
	}
	w.file, w.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first when p would push the file past the limit.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file == nil {
		return 0, os.ErrClosed
	}
	if w.size > 0 && w.size+int64(len(p)) > w.maxBytes {
		// A failed rotation must not lose the line: keep writing to the old file.
		_ = w.rotate()
	}
	n, err := w.file.Write(p)
	w.size += int64(n)
	return n, err
}

func (w *Writer) rotate() error {
	if err := w.file.Close(); err != nil {
		return err
	}
	w.file = nil
	for i := w.maxFiles - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", w.path, i), fmt.Sprintf("%s.%d", w.path, i+1))
	}
	if w.maxFiles >= 1 {
		_ = os.Rename(w.path, w.path+".1")
	} else {
		_ = os.Remove(w.path)
	}
	return w.open()
}

// SetLimits changes the rotation limits (config reload).
func (w *Writer) SetLimits(maxBytes int64, maxFiles int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.maxBytes, w.maxFiles = maxBytes, maxFiles
}

// Close closes the file; later writes fail with os.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file == nil {
		return nil
	}
	err := w.file.Close()
	w.file = nil
	return err
}
