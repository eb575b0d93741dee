package deploy

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// contextFile is one entry of a build context as the engine receives it.
type contextFile struct {
	rel  string // slash-separated path inside the context
	abs  string
	mode fs.FileMode
	size int64
	mod  time.Time
	link string // symlink target
	sum  string // hex sha256 of a regular file's content
}

// fileSum is a cached content digest, valid while size and mtime match.
type fileSum struct {
	size int64
	mod  time.Time
	sum  string
}

// BuildContexts reads build contexts and digests them as the engine would
// see them: every file, directory and symlink of the context directory
// that its .dockerignore does not exclude (the Dockerfile and the
// .dockerignore itself are always sent, as the docker CLI does), by path,
// permission bits, type and content; modification times are left out.
// Content digests are cached by (path, size, mtime), so planning again
// reads only files that changed. It is safe for concurrent use.
type BuildContexts struct {
	mu sync.Mutex
	// sums holds, per context directory, the digests of its files seen
	// by the last read (files gone since are dropped).
	sums map[string]map[string]fileSum
	// hashed counts the files whose content was read and digested.
	hashed int64
}

// NewBuildContexts returns an empty cache.
func NewBuildContexts() *BuildContexts {
	return &BuildContexts{sums: map[string]map[string]fileSum{}}
}

// Hashed is the number of files whose content was read so far (cache
// misses).
func (c *BuildContexts) Hashed() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hashed
}

// Stack reads the build context of every enabled instance of s that
// builds its image, by instance id (nil when none does): what
// project.Options.Builds expects. A context that cannot be read gives an
// entry with its error, which makes the instance one that cannot be
// applied.
func (c *BuildContexts) Stack(s spec.Stack) map[int64]project.BuildContext {
	var out map[int64]project.BuildContext
	for _, inst := range s.Instances {
		b := inst.Effective.Build.Value
		if b == nil || !s.Enabled || !inst.Enabled {
			continue
		}
		if out == nil {
			out = map[int64]project.BuildContext{}
		}
		d, err := c.Digest(*b)
		if err != nil {
			out[inst.ID] = project.BuildContext{Err: fmt.Sprintf("instance %q: %v", inst.Name, err)}
			continue
		}
		out[inst.ID] = project.BuildContext{Digest: d}
	}
	return out
}

// Digest returns the digest of b's context ("sha256:<hex>").
func (c *BuildContexts) Digest(b spec.Build) (string, error) {
	files, err := c.read(b)
	if err != nil {
		return "", err
	}
	return contextDigest(b, files), nil
}

// contextDigest digests the listed files and the Dockerfile's path.
func contextDigest(b spec.Build, files []contextFile) string {
	h := sha256.New()
	fmt.Fprintf(h, "dockerfile\x00%s\n", path.Clean(b.DockerfilePath()))
	for _, f := range files {
		kind, content := "file", f.sum
		switch {
		case f.mode.IsDir():
			kind, content = "dir", ""
		case f.mode&fs.ModeSymlink != 0:
			kind, content = "link", f.link
		}
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\n", kind, f.rel, strconv.FormatUint(uint64(f.mode.Perm()), 8), content)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// read lists b's context (sorted by path) with the content digest of each
// regular file, from the cache where size and mtime did not change.
func (c *BuildContexts) read(b spec.Build) ([]contextFile, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	files, err := listContext(b)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	old := c.sums[b.Context]
	c.mu.Unlock()
	fresh := make(map[string]fileSum, len(files))
	var hashed int64
	for i := range files {
		f := &files[i]
		if !f.mode.IsRegular() {
			continue
		}
		if s, ok := old[f.rel]; ok && s.size == f.size && s.mod.Equal(f.mod) {
			f.sum = s.sum
		} else {
			sum, err := fileDigest(f.abs)
			if err != nil {
				return nil, fmt.Errorf("read build context %q: %w", b.Context, err)
			}
			f.sum = sum
			hashed++
		}
		fresh[f.rel] = fileSum{size: f.size, mod: f.mod, sum: f.sum}
	}
	c.mu.Lock()
	c.sums[b.Context] = fresh
	c.hashed += hashed
	c.mu.Unlock()
	return files, nil
}

func fileDigest(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readIgnore returns the patterns of the context's .dockerignore (none
// when it has none).
func readIgnore(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	return patterns, nil
}

// listContext walks b's context and returns what the engine would
// receive, sorted by path. It fails with a message saying what to fix
// when the context or its Dockerfile is missing.
func listContext(b spec.Build) ([]contextFile, error) {
	info, err := os.Stat(b.Context)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("build context %q does not exist; create it or correct build.context", b.Context)
	case err != nil:
		return nil, fmt.Errorf("read build context %q: %w", b.Context, err)
	case !info.IsDir():
		return nil, fmt.Errorf("build context %q is not a directory; build.context must name the directory holding the Dockerfile", b.Context)
	}
	dockerfile := path.Clean(b.DockerfilePath())
	if st, err := os.Stat(filepath.Join(b.Context, filepath.FromSlash(dockerfile))); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("build context %q has no Dockerfile %q; add it or correct build.dockerfile", b.Context, dockerfile)
	}
	patterns, err := readIgnore(b.Context)
	if err != nil {
		return nil, fmt.Errorf("build context %q: %w", b.Context, err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("build context %q: invalid .dockerignore pattern: %w", b.Context, err)
	}
	keep := map[string]bool{dockerfile: true, ".dockerignore": true}
	var out []contextFile
	err = filepath.WalkDir(b.Context, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(b.Context, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		excluded := false
		if len(patterns) > 0 && !keep[rel] {
			if excluded, err = pm.MatchesOrParentMatches(rel); err != nil {
				return fmt.Errorf("match %q against .dockerignore: %w", rel, err)
			}
		}
		if excluded {
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f := contextFile{rel: rel, abs: p, mode: info.Mode(), size: info.Size(), mod: info.ModTime()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			if f.link, err = os.Readlink(p); err != nil {
				return err
			}
		case !info.IsDir() && !info.Mode().IsRegular():
			return nil // sockets, devices, pipes: the docker CLI skips them too
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read build context %q: %w", b.Context, err)
	}
	slices.SortFunc(out, func(a, b contextFile) int {
		switch {
		case a.rel < b.rel:
			return -1
		case a.rel > b.rel:
			return 1
		}
		return 0
	})
	return out, nil
}

// writeContextTar writes the listed files as the uncompressed tar the
// engine's build endpoint reads. A file that changed size since it was
// listed fails the build (the tar header announced its size).
func writeContextTar(w io.Writer, b spec.Build, files []contextFile) error {
	tw := tar.NewWriter(w)
	for i := range files {
		f := &files[i]
		hdr := &tar.Header{Name: f.rel, Mode: int64(f.mode.Perm()), ModTime: f.mod.Truncate(time.Second)}
		switch {
		case f.mode.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, f.rel+"/"
		case f.mode&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.link
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, f.size
		}
		if hdr.Typeflag == tar.TypeReg && f.rel == path.Clean(b.DockerfilePath()) {
			if err := writeDockerfile(tw, hdr, f.abs, b.Args); err != nil {
				return fmt.Errorf("add the Dockerfile %q to the build context: %w", f.rel, err)
			}
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := copyFile(tw, f.abs, f.size); err != nil {
			return fmt.Errorf("add %q to the build context: %w", f.rel, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return nil
}

// copyFile copies exactly size bytes of a file (the size its tar header
// announced).
func copyFile(w io.Writer, name string, size int64) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("the file shrank while it was read (%d of %d bytes); apply again", n, size)
	}
	return nil
}

// writeDockerfile adds the Dockerfile to the tar with its COPY --from
// references expanded (see expandCopyFrom).
func writeDockerfile(tw *tar.Writer, hdr *tar.Header, name string, args map[string]string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	data = []byte(expandCopyFrom(string(data), args))
	hdr.Size = int64(len(data))
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = tw.Write(data)
	return err
}
