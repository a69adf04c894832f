// Command trivy-db builds a Trivy vulnerability database (schema 2) from the fixture advisories
// in advisories.json with trivy-db's own Go packages, the same code that builds the upstream
// database, and packs it the way Trivy downloads it from an OCI registry: db.tar.gz holding
// trivy.db (bbolt) and metadata.json.
//
// Buckets written (trivy-db pkg/db, as after its "optimize" step, which is what Trivy reads):
//   "<platform>" -> "<source package>" -> "<vuln id>" = types.Advisory  (e.g. "debian 12" -> "zlib")
//   "vulnerability" -> "<vuln id>" = types.Vulnerability (title, severity per source, CVSS)
//   "data-source" -> "<platform>" = types.DataSource (how Trivy names the advisory's origin)
//
// Usage: go run . -advisories advisories.json -out <dir> [-updated-at RFC3339]
// The output is reproducible: the same advisories and updatedAt give the same db.tar.gz bytes.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/metadata"
	"github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/vulnerability"
	bolt "go.etcd.io/bbolt"
)

type advisory struct {
	ID            string  `json:"id"`
	Platform      string  `json:"platform"`
	SourcePackage string  `json:"sourcePackage"`
	FixedVersion  string  `json:"fixedVersion"`
	Severity      string  `json:"severity"`
	Title         string  `json:"title"`
	Description   string  `json:"description"`
	CVSSV3        string  `json:"cvssV3"`
	CVSSV3Score   float64 `json:"cvssV3Score"`
}

type fixture struct {
	UpdatedAt       time.Time  `json:"updatedAt"`
	NextUpdateHours int        `json:"nextUpdateHours"`
	Advisories      []advisory `json:"advisories"`
}

// Debian is the only platform the fixtures need; others would name their own data source.
var dataSources = map[string]types.DataSource{
	"debian 12": {ID: vulnerability.Debian, Name: "Debian Security Tracker", URL: "https://salsa.debian.org/security-tracker-team/security-tracker"},
}

func main() {
	advisoriesPath := flag.String("advisories", "advisories.json", "fixture advisories (JSON)")
	out := flag.String("out", "", "output folder: trivy.db, metadata.json and db.tar.gz are written here")
	updatedAt := flag.String("updated-at", "", "RFC3339 time for metadata.json UpdatedAt (default: the fixture's updatedAt)")
	flag.Parse()
	if *out == "" {
		fail(fmt.Errorf("-out is required"))
	}
	if err := run(*advisoriesPath, *out, *updatedAt); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "trivy-db: %v\n", err)
	os.Exit(1)
}

func run(advisoriesPath, out, updatedAtFlag string) error {
	raw, err := os.ReadFile(advisoriesPath)
	if err != nil {
		return err
	}
	var fx fixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		return fmt.Errorf("%s: %w", advisoriesPath, err)
	}
	if updatedAtFlag != "" {
		if fx.UpdatedAt, err = time.Parse(time.RFC3339, updatedAtFlag); err != nil {
			return fmt.Errorf("-updated-at: %w", err)
		}
	}
	if fx.UpdatedAt.IsZero() {
		return fmt.Errorf("%s: updatedAt is required", advisoriesPath)
	}
	if fx.NextUpdateHours <= 0 {
		fx.NextUpdateHours = 24
	}
	if err := validate(fx.Advisories); err != nil {
		return fmt.Errorf("%s: %w", advisoriesPath, err)
	}

	dbDir := filepath.Join(out, "db")
	if err := os.RemoveAll(dbDir); err != nil {
		return err
	}
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return err
	}
	if err := db.Init(dbDir); err != nil {
		return fmt.Errorf("open bolt db: %w", err)
	}
	dbc := db.Config{}
	// One order for every run, so the bolt file comes out the same.
	sort.Slice(fx.Advisories, func(i, j int) bool { return fx.Advisories[i].ID < fx.Advisories[j].ID })
	err = dbc.BatchUpdate(func(tx *bolt.Tx) error {
		for _, a := range fx.Advisories {
			if err := put(dbc, tx, a); err != nil {
				return fmt.Errorf("%s: %w", a.ID, err)
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	meta := metadata.Metadata{
		Version:    db.SchemaVersion,
		UpdatedAt:  fx.UpdatedAt.UTC(),
		NextUpdate: fx.UpdatedAt.UTC().Add(time.Duration(fx.NextUpdateHours) * time.Hour),
	}
	if err := metadata.NewClient(dbDir).Update(meta); err != nil {
		return err
	}
	if err := pack(dbDir, filepath.Join(out, "db.tar.gz"), fx.UpdatedAt.UTC()); err != nil {
		return err
	}
	summary, _ := json.Marshal(map[string]any{"schemaVersion": db.SchemaVersion, "updatedAt": meta.UpdatedAt, "nextUpdate": meta.NextUpdate, "advisories": len(fx.Advisories)})
	fmt.Println(string(summary))
	return nil
}

func validate(advisories []advisory) error {
	seen := map[string]bool{}
	for _, a := range advisories {
		if a.ID == "" || a.SourcePackage == "" {
			return fmt.Errorf("every advisory needs id and sourcePackage")
		}
		if _, ok := dataSources[a.Platform]; !ok {
			return fmt.Errorf("%s: unknown platform %q (known: debian 12)", a.ID, a.Platform)
		}
		if _, err := types.NewSeverity(a.Severity); err != nil {
			return fmt.Errorf("%s: %w", a.ID, err)
		}
		key := a.Platform + "/" + a.SourcePackage + "/" + a.ID
		if seen[key] {
			return fmt.Errorf("%s listed twice for %s", a.ID, a.SourcePackage)
		}
		seen[key] = true
	}
	return nil
}

func put(dbc db.Config, tx *bolt.Tx, a advisory) error {
	severity, _ := types.NewSeverity(a.Severity)
	adv := types.Advisory{FixedVersion: a.FixedVersion}
	if a.FixedVersion == "" {
		// Debian's tracker marks an open issue "affected"; Trivy shows it as Status "affected".
		adv.Status = types.StatusAffected
	}
	if err := dbc.PutAdvisory(tx, []string{a.Platform, a.SourcePackage}, a.ID, &adv); err != nil {
		return err
	}
	src := dataSources[a.Platform]
	vuln := types.Vulnerability{
		Title:          a.Title,
		Description:    a.Description,
		Severity:       severity.String(),
		VendorSeverity: types.VendorSeverity{src.ID: severity, vulnerability.NVD: severity},
		References:     []string{"https://security-tracker.debian.org/tracker/" + a.ID},
	}
	if a.CVSSV3 != "" {
		vuln.CVSS = types.VendorCVSS{vulnerability.NVD: {V3Vector: a.CVSSV3, V3Score: a.CVSSV3Score}}
	}
	if err := dbc.PutVulnerability(tx, a.ID, vuln); err != nil {
		return err
	}
	return dbc.PutDataSource(tx, a.Platform, src)
}

// pack writes the layer Trivy downloads: a gzip'd tar of trivy.db and metadata.json at its root,
// with fixed times and owners so the digest depends only on the content.
func pack(dbDir, dest string, mtime time.Time) error {
	f, err := os.Create(dest + ".tmp")
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewWriterLevel(f, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, name := range []string{"trivy.db", "metadata.json"} {
		data, err := os.ReadFile(filepath.Join(dbDir, name))
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, bytes.NewReader(data)); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(dest+".tmp", dest)
}
