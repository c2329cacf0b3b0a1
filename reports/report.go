package reports

import (
	"os"
	"path/filepath"
)

// The files WriteReport writes next to results.json.
const (
	MarkdownFile = "report.md"
	HTMLFile     = "report.html"
)

// WriteReport reads dir/results.json and writes dir/report.md and
// dir/report.html. Each file is written to a temporary name and renamed,
// so a reader never sees half a report; an error leaves any earlier
// report in place.
func WriteReport(dir string) error {
	s, err := Read(dir)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, MarkdownFile), RenderMarkdown(s)); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, HTMLFile), RenderHTML(s))
}

func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
