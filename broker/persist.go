package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"

	"github.com/thrustmq/thrust/broker/host"
	"github.com/thrustmq/thrust/broker/store"
)

// configFile persists one JSON configuration file (topics, offsets,
// subscription groups) the way a careful database writes a small file: the
// new content goes to <name>.tmp, is synced, renamed over <name>, and the
// directory is synced. A crash leaves the old file or the new one, never a
// mix. Writes coalesce: while one is in flight, later requests collapse into
// one more write of the latest state.
type configFile struct {
	fs      host.FS
	log     *slog.Logger
	path    string
	encode  func() ([]byte, error)
	writing bool
	again   bool
	closed  bool
	// queued are callbacks waiting for the next write to be durable.
	queued []func(error)
	// dirReady: the file's directory exists and its entry is durable.
	dirReady bool
}

var errConfigClosed = errors.New("broker: configuration file closed")

func newConfigFile(fsys host.FS, log *slog.Logger, path string, encode func() ([]byte, error)) *configFile {
	return &configFile{fs: fsys, log: log, path: path, encode: encode}
}

// load reads the file into v. It reports false, without error, when the file
// does not exist. A <name>.tmp left by a crash is ignored: the rename never
// happened, so the old file is the truth.
func (c *configFile) load(v any) (bool, error) {
	f, err := c.fs.Open(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("broker: open %s: %w", c.path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return false, err
	}
	if size > 256<<20 {
		return false, fmt.Errorf("broker: %s is %d bytes; refusing to load it", c.path, size)
	}
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil && size > 0 {
		return false, fmt.Errorf("broker: read %s: %w", c.path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("broker: %s is not valid: %w", c.path, err)
	}
	return true, nil
}

// persist writes the current state soon, off the loop where it can.
func (c *configFile) persist() { c.persistThen(nil) }

// persistThen writes the current state and calls done (if not nil) once a
// write that began after this call is durable, or failed. Writes coalesce:
// every request made while one write is in flight is served by the next.
func (c *configFile) persistThen(done func(error)) {
	if c.closed {
		if done != nil {
			done(errConfigClosed)
		}
		return
	}
	if done != nil {
		c.queued = append(c.queued, done)
	}
	if c.writing {
		c.again = true
		return
	}
	waiters := c.queued
	c.queued = nil
	finish := func(err error) {
		for _, w := range waiters {
			w(err)
		}
	}
	data, err := c.encode()
	if err != nil {
		c.log.Error("broker: encode configuration", "file", c.path, "err", err)
		finish(err)
		return
	}
	tmp := c.path + ".tmp"
	f, err := c.writeTmp(tmp, data)
	if err != nil {
		c.log.Error("broker: write configuration", "file", tmp, "err", err)
		finish(err)
		return
	}
	c.writing = true
	f.SyncAsync(func(err error) {
		f.Close()
		c.writing = false
		if err == nil {
			err = c.install(tmp)
		}
		if err != nil {
			c.log.Error("broker: persist configuration", "file", c.path, "err", err)
		}
		finish(err)
		if c.again || len(c.queued) > 0 {
			c.again = false
			c.persistThen(nil)
		}
	})
}

// persistSync writes the current state and waits: for shutdown.
func (c *configFile) persistSync() error {
	data, err := c.encode()
	if err != nil {
		return err
	}
	tmp := c.path + ".tmp"
	f, err := c.writeTmp(tmp, data)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return err
	}
	return c.install(tmp)
}

func (c *configFile) writeTmp(tmp string, data []byte) (host.File, error) {
	if !c.dirReady {
		// NB: MkdirAll alone is not enough: until its parent is synced, a
		// power loss can take the new directory and every file in it,
		// acknowledged offsets included. (Found by the simulator.)
		if err := store.MkdirDurable(c.fs, filepath.Dir(tmp)); err != nil {
			return nil, err
		}
		c.dirReady = true
	}
	f, err := c.fs.Create(tmp)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (c *configFile) install(tmp string) error {
	if err := c.fs.Rename(tmp, c.path); err != nil {
		return err
	}
	return c.fs.SyncDir(filepath.Dir(c.path))
}
