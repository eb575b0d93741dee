package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// PhaseImages builds the images of the instances that build theirs, before
// anything on the engine changes.
const PhaseImages = "images"

// BuildError is a failed image build: the instance, the Dockerfile step
// that failed (empty when the build failed before any step) and the
// engine's message.
type BuildError struct {
	Instance string
	Image    string
	Step     string
	Err      error
}

func (e *BuildError) Error() string {
	if e.Step == "" {
		return fmt.Sprintf("build image %s of instance %q: %v", e.Image, e.Instance, e.Err)
	}
	return fmt.Sprintf("build image %s of instance %q: Dockerfile step %q failed: %v", e.Image, e.Instance, e.Step, e.Err)
}

func (e *BuildError) Unwrap() error { return e.Err }

// buildImages builds, through the engine's classic builder, the image of
// every enabled instance of s that has a build section and whose image is
// missing or carries another build digest (spec.LabelBuildDigest) than
// the desired one. Base images must be local: the builder is never asked
// to pull. The build output goes to out (scrubbed by the caller); emit
// reports each image's progress. It returns the tags it built.
func (r *Runtime) buildImages(ctx context.Context, s spec.Stack, o ApplyOptions, out io.Writer, emit func(container, action, status, msg string)) ([]string, error) {
	var built []string
	for _, inst := range s.Instances {
		b := inst.Effective.Build.Value
		if b == nil || !s.Enabled || !inst.Enabled {
			continue
		}
		tag := project.Image(s, inst)
		digest, err := project.InstanceBuildDigest(inst, o.Paths)
		if err != nil {
			return built, &BuildError{Instance: inst.Name, Image: tag, Err: err}
		}
		id := "image " + tag
		img, err := r.cli.ImageInspect(ctx, tag)
		switch {
		case err == nil && img.Config != nil && img.Config.Labels[spec.LabelBuildDigest] == digest:
			emit(id, "up to date", ProgressDone, "")
			continue
		case err != nil && !cerrdefs.IsNotFound(err):
			return built, &BuildError{Instance: inst.Name, Image: tag, Err: fmt.Errorf("inspect image: %w", err)}
		}
		emit(id, "building", ProgressWorking, "")
		if err := r.buildImage(ctx, s, inst, *b, tag, digest, out); err != nil {
			emit(id, "build", ProgressError, s.Scrubber().Scrub(err.Error()))
			return built, err
		}
		emit(id, "built", ProgressDone, "")
		built = append(built, tag)
	}
	return built, nil
}

// buildImage sends b's context to the engine and builds it as tag,
// labelled with digest, the build digest the plan was made with (a file
// edited since then shows as a `~ build` in the next plan, and the image
// is built again).
func (r *Runtime) buildImage(ctx context.Context, s spec.Stack, inst spec.Instance, b spec.Build, tag, digest string, out io.Writer) error {
	fail := func(step string, err error) error {
		return &BuildError{Instance: inst.Name, Image: tag, Step: step, Err: err}
	}
	files, err := listContext(b)
	if err != nil {
		return fail("", err)
	}
	pr, pw := io.Pipe()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		pw.CloseWithError(writeContextTar(pw, b, files))
	}()
	labels := map[string]string{}
	for k, v := range b.Labels {
		labels[k] = v
	}
	// Only the digest: the containers inherit the image's labels, and the
	// observer reads a label equal to the image's as the image's default,
	// so identity labels here would hide the containers' own.
	labels[spec.LabelBuildDigest] = digest
	args := make(map[string]*string, len(b.Args))
	for k, v := range b.Args {
		args[k] = &v
	}
	hosts := make([]string, 0, len(b.ExtraHosts))
	for _, h := range b.ExtraHosts {
		name, addr, _ := strings.Cut(h, "=")
		hosts = append(hosts, name+":"+addr)
	}
	res, err := r.cli.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Tags: []string{tag}, Dockerfile: b.DockerfilePath(), BuildArgs: args, Target: b.Target,
		Labels: labels, NetworkMode: b.Network, NoCache: b.NoCache, ShmSize: int64(b.ShmSize), ExtraHosts: hosts,
		Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		_ = pr.CloseWithError(err)
		<-sent
		return fail("", fmt.Errorf("start the build: %w", err))
	}
	defer res.Body.Close()
	step, err := readBuildOutput(res.Body, out)
	_ = pr.Close()
	<-sent
	if err != nil {
		return fail(step, err)
	}
	return nil
}

// buildMessage is one message of the engine's build output stream.
type buildMessage struct {
	Stream      string `json:"stream"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// readBuildOutput copies the build's text output to out and returns the
// last Dockerfile step it started ("Step 2/3 : RUN make" → "RUN make")
// and the build's error, if the engine reported one.
func readBuildOutput(r io.Reader, out io.Writer) (string, error) {
	dec := json.NewDecoder(bufio.NewReader(r))
	var step string
	for {
		var m buildMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return step, nil
		} else if err != nil {
			return step, fmt.Errorf("read the build output: %w", err)
		}
		if m.Stream != "" {
			_, _ = io.WriteString(out, m.Stream)
			for line := range strings.Lines(m.Stream) {
				if s, ok := buildStep(line); ok {
					step = s
				}
			}
		}
		msg := m.Error
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			msg = m.ErrorDetail.Message
		}
		if msg != "" {
			_, _ = io.WriteString(out, msg+"\n")
			return step, errors.New(strings.TrimSpace(msg))
		}
	}
}

// buildStep extracts the instruction of a classic builder's step line
// ("Step 2/3 : COPY a /a").
func buildStep(line string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Step ")
	if !ok {
		return "", false
	}
	_, instr, ok := strings.Cut(rest, " : ")
	if !ok {
		return "", false
	}
	return instr, true
}

// applyImages runs the images phase of an apply when the stack builds any
// image: the build output is logged (scrubbed of the stack's secrets) and,
// when a build fails, kept in Result.ComposeOutput with the error.
func (r *Runtime) applyImages(ctx context.Context, s spec.Stack, o ApplyOptions, log *zap.Logger, emit func(container, action, status, msg string), res *Result) error {
	if !slices.ContainsFunc(s.Instances, func(inst spec.Instance) bool { return inst.Effective.Build.Value != nil }) {
		return nil
	}
	if err := o.beforePhase(ctx, PhaseImages); err != nil {
		return err
	}
	t := time.Now()
	var out bytes.Buffer
	built, err := r.buildImages(ctx, s, o, &out, emit)
	res.Durations[PhaseImages] = time.Since(t)
	res.Built = built
	scrub := s.Scrubber()
	text := scrub.Scrub(strings.TrimSpace(out.String()))
	if err != nil {
		msg := scrub.Scrub(err.Error())
		log.Warn("image build failed", zap.NamedError("err", errors.New(msg)))
		res.ComposeOutput = strings.TrimSpace(msg + "\n" + text)
		return &ApplyError{Phase: PhaseImages, Err: err}
	}
	if text != "" {
		log.Info("build output", zap.String("output", text))
	}
	return nil
}
