package namesrv

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"path/filepath"

	"github.com/thrustmq/thrust/broker/host"
)

// NamespaceOrderTopicConfig is the KV namespace of globally ordered topics:
// key = topic, value = "brokerA:4;brokerB:4" (NamesrvUtil.java).
const NamespaceOrderTopicConfig = "ORDER_TOPIC_CONFIG"

// maxKVFileBytes bounds the KV file read at start: it holds operator-set
// configuration, kilobytes in practice, and a larger file is a mistake.
const maxKVFileBytes = 64 << 20

// kvConfig is the name server's KV store (KVConfigManager.java): namespaces
// of string pairs that operators set with mqadmin and that the name server
// serves, notably ORDER_TOPIC_CONFIG.
//
// With a path it is kept in a JSON file, {"configTable":{ns:{key:value}}},
// written whole on every change: a temporary file, synced, renamed over the
// old one, directory synced. A change is applied in memory only once it is
// durable, so an acknowledged PUT survives a crash and a failed one leaves
// nothing behind.
type kvConfig struct {
	fsys  host.FS
	path  string
	log   *slog.Logger
	table map[string]map[string]string
}

func loadKVConfig(fsys host.FS, path string, log *slog.Logger) (*kvConfig, error) {
	kv := &kvConfig{fsys: fsys, path: path, log: log, table: map[string]map[string]string{}}
	if path == "" {
		return kv, nil
	}
	if fsys == nil {
		return nil, errors.New("namesrv: kvConfigPath is set but the node has no file system")
	}
	data, err := readFile(fsys, path)
	if errors.Is(err, fs.ErrNotExist) {
		return kv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("namesrv: kv config: %w", err)
	}
	var wrapper struct {
		ConfigTable map[string]map[string]string `json:"configTable"`
	}
	if err := json.Unmarshal(standardJSON(data), &wrapper); err != nil {
		return nil, fmt.Errorf("namesrv: kv config %s: %w", path, err)
	}
	for ns, m := range wrapper.ConfigTable {
		if len(m) > 0 {
			kv.table[ns] = m
		}
	}
	log.Info("namesrv: kv config loaded", "path", path, "namespaces", len(kv.table))
	return kv, nil
}

func readFile(fsys host.FS, path string) ([]byte, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	if size > maxKVFileBytes {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit", path, size, maxKVFileBytes)
	}
	data := make([]byte, size)
	if n, err := f.ReadAt(data, 0); n < len(data) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return data, nil
}

// Get returns the value of key in namespace.
func (kv *kvConfig) Get(namespace, key string) (string, bool) {
	v, ok := kv.table[namespace][key]
	return v, ok
}

// List returns a copy of namespace's pairs, and whether it has any.
func (kv *kvConfig) List(namespace string) (map[string]string, bool) {
	m, ok := kv.table[namespace]
	return maps.Clone(m), ok
}

// Put sets key in namespace, durably when the store has a file.
func (kv *kvConfig) Put(namespace, key, value string) error {
	next := kv.cloneTable()
	if next[namespace] == nil {
		next[namespace] = map[string]string{}
	}
	old, existed := next[namespace][key]
	next[namespace][key] = value
	if err := kv.persist(next); err != nil {
		return err
	}
	kv.table = next
	if existed {
		kv.log.Info("namesrv: kv config updated", "namespace", namespace, "key", key, "old", old, "value", value)
	} else {
		kv.log.Info("namesrv: kv config created", "namespace", namespace, "key", key, "value", value)
	}
	return nil
}

// Delete removes key from namespace, durably when the store has a file.
// Deleting a missing key succeeds.
func (kv *kvConfig) Delete(namespace, key string) error {
	if _, ok := kv.table[namespace][key]; !ok {
		return nil
	}
	next := kv.cloneTable()
	delete(next[namespace], key)
	if len(next[namespace]) == 0 {
		delete(next, namespace)
	}
	if err := kv.persist(next); err != nil {
		return err
	}
	kv.table = next
	kv.log.Info("namesrv: kv config deleted", "namespace", namespace, "key", key)
	return nil
}

func (kv *kvConfig) cloneTable() map[string]map[string]string {
	next := make(map[string]map[string]string, len(kv.table)+1)
	for ns, m := range kv.table {
		next[ns] = maps.Clone(m)
	}
	return next
}

// encodeKVFile returns the file's contents, namespaces and keys sorted.
func encodeKVFile(table map[string]map[string]string) []byte {
	dst := append([]byte(nil), `{"configTable":{`...)
	for i, ns := range sortedKeys(table) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, ns)
		dst = append(dst, ':')
		dst = appendStringMap(dst, table[ns])
	}
	return append(dst, "}}"...)
}

// persist writes table to the file, atomically and durably. The file system
// calls block the loop; the file is small and changes only when an operator
// asks.
func (kv *kvConfig) persist(table map[string]map[string]string) error {
	if kv.path == "" {
		return nil
	}
	dir := filepath.Dir(kv.path)
	tmp := kv.path + ".tmp"
	if err := kv.fsys.MkdirAll(dir); err != nil {
		return fmt.Errorf("namesrv: kv config: %w", err)
	}
	f, err := kv.fsys.Create(tmp)
	if err != nil {
		return fmt.Errorf("namesrv: kv config: %w", err)
	}
	data := encodeKVFile(table)
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return fmt.Errorf("namesrv: kv config: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("namesrv: kv config: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("namesrv: kv config: close %s: %w", tmp, err)
	}
	if err := kv.fsys.Rename(tmp, kv.path); err != nil {
		return fmt.Errorf("namesrv: kv config: %w", err)
	}
	if err := kv.fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("namesrv: kv config: sync dir %s: %w", dir, err)
	}
	return nil
}
