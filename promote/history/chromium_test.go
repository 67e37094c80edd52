//go:build unix

package history

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromium finds the headless browser: on PATH, else Debian's /usr/bin/chromium.
func chromium(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Fatal("chromium is not on PATH nor at /usr/bin/chromium: run `make tools` (it installs Debian's chromium package)")
	return ""
}

// runChromium runs one headless chromium with a fresh profile, for at most a minute, and
// kills its whole process group afterwards (renderer and GPU processes included).
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(flags, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what it left behind, if anything
	}
	if err != nil {
		t.Fatalf("chromium %s: %v (%v)\nstderr:\n%s", strings.Join(args, " "), err, ctx.Err(), lastLines(stderr.String(), 20))
	}
	return stdout.Bytes()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestHTMLInChromium loads the sample report's page in headless Chromium: the DOM it builds
// has the sections, marks and figures, and its screenshot shows a styled page with red
// rollback marks (without the inline CSS the marks would be black).
//
// FERRY_WRITE_SCREENSHOT=../../docs/img/history.png (relative to this directory) also saves
// the screenshot there, for the docs.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	page := filepath.Join(t.TempDir(), "history.html")
	if err := os.WriteFile(page, writeHTML(t, readSample(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	pageURL := (&url.URL{Scheme: "file", Path: page}).String()

	dom := runChromium(t, bin, "--dump-dom", pageURL)
	checkSamplePage(t, parseHTML(t, dom))

	shot := filepath.Join(t.TempDir(), "history.png")
	runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,900", "--hide-scrollbars", pageURL)
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding the screenshot: %v", err)
	}
	if got := img.Bounds().Size(); got != image.Pt(1280, 900) {
		t.Errorf("screenshot is %v, want 1280x900", got)
	}
	st := screenshotStats(img)
	t.Logf("screenshot: %d bytes, %d colours, %.1f%% off the background, %d red and %d blue pixels",
		len(b), st.colours, 100*st.offBackground, st.red, st.blue)
	if st.colours < 32 {
		t.Errorf("screenshot has %d colours, want a rendered page (at least 32)", st.colours)
	}
	if st.offBackground < 0.05 {
		t.Errorf("%.1f%% of the screenshot differs from its background, want at least 5%%", 100*st.offBackground)
	}
	if st.red < 150 { // the legend's swatch alone is about 80, each rollback mark about 110
		t.Errorf("%d red pixels, want the legend's and two rollback marks' (at least 150)", st.red)
	}
	if st.blue < 200 {
		t.Errorf("%d blue pixels, want the change marks (at least 200)", st.blue)
	}
	if out := os.Getenv("FERRY_WRITE_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", out)
	}
}

type shotStats struct {
	colours       int
	offBackground float64
	red, blue     int
}

func screenshotStats(img image.Image) shotStats {
	counts := map[color.RGBA]int{}
	var st shotStats
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			counts[c]++
			R, G, B := int(c.R), int(c.G), int(c.B)
			switch {
			case R >= 160 && G <= 90 && B <= 90: // the rollback red, #c62828
				st.red++
			case B >= 130 && B-R >= 60 && G <= 140: // the change blue, #3d6fa8
				st.blue++
			}
		}
	}
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	st.colours = len(counts)
	st.offBackground = 1 - float64(most)/float64(r.Dx()*r.Dy())
	return st
}
