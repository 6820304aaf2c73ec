package loader

import (
	"fmt"
	"strings"
)

// The published versions of @permaweb/ao-loader differ in what a module sees
// (diff of the dists of 0.0.44, 0.0.47 and 0.0.49 from npm; 0.0.48 is not on
// npm any more, `^0.0.48` installs 0.0.49):
//
//   - 0.0.44: the wasm64 and emscripten4 glues give the emscripten
//     environment strings (getEnvStrings(): USER, LOGNAME, PATH, PWD, HOME,
//     LANG and `_=` thisProgram); 0.0.47 and later patch it to return [].
//     Emscripten's environ constructor copies them into linear memory while
//     the module loads, so they shift the heap, Lua's string hash seed and so
//     pairs() order, key order of outputs and every memory byte after.
//   - 0.0.48 and later add `Patches: response.Patches || []` to handle()'s
//     result; 0.0.44 and 0.0.47 have no Patches key.
//   - Everything else that changed (options defaults, UNSAFE_MEMORY, an extra
//     microtask after an Asyncify rewind, guards around gas and metering) makes
//     no difference to results or memory for the formats the CU passes.
//
// The legacy glues (wasm32-unknown-emscripten, 2, 3) are byte-identical in all
// versions: they always give the environment strings.

// Loader versions a profile can be selected by.
const (
	LoaderVersion044 = "0.0.44"
	LoaderVersion047 = "0.0.47"
	LoaderVersion048 = "0.0.48"
	LoaderVersion049 = "0.0.49"
	// DefaultLoaderVersion is what the reference CU as deployed computes with
	// (its lockfile pins @permaweb/ao-loader 0.0.44).
	DefaultLoaderVersion = LoaderVersion044
	// DefaultThisProgram is process.argv[1] of the reference CU's evaluation
	// worker threads in its Docker image (WORKDIR /usr/app): node gives a
	// worker started from a file its own script as argv[1], and the glue
	// takes it as thisProgram (measured live beside the reference:
	// test/oracle).
	DefaultThisProgram = "/usr/app/src/effects/worker/evaluator/index.js"
)

// LoaderVersions lists the accepted loader versions, default first.
var LoaderVersions = []string{LoaderVersion044, LoaderVersion047, LoaderVersion048, LoaderVersion049}

// profile is what differs between loader versions.
type profile struct {
	version string
	// envStrings: the modern glues (wasm64, emscripten4) give the emscripten
	// environment strings instead of none.
	envStrings bool
	// patches: handle()'s result has Patches (`response.Patches || []`).
	patches bool
}

func profileOf(version string) (profile, error) {
	switch version {
	case "", LoaderVersion044:
		return profile{version: LoaderVersion044, envStrings: true}, nil
	case LoaderVersion047:
		return profile{version: LoaderVersion047}, nil
	case LoaderVersion048, LoaderVersion049:
		return profile{version: version, patches: true}, nil
	}
	return profile{}, fmt.Errorf("loader: unknown @permaweb/ao-loader version %q (supported: %s)", version, strings.Join(LoaderVersions, ", "))
}

// CheckLoaderVersion reports whether version names a supported loader profile.
func CheckLoaderVersion(version string) error {
	_, err := profileOf(version)
	return err
}

// CheckThisProgram validates a thisProgram path. The glues write it with
// stringToAscii (environ) and stringToUTF8 (emscripten2's argv); only ASCII
// gives the same bytes both ways, and a NUL would cut the C string.
func CheckThisProgram(p string) error {
	for i := 0; i < len(p); i++ {
		if p[i] == 0 || p[i] >= 0x80 {
			return fmt.Errorf("loader: thisProgram %q: only ASCII without NUL is supported", p)
		}
	}
	return nil
}

// glueThisProgram is what the glue makes of process.argv[1]: backslashes
// become slashes.
func glueThisProgram(argv1 string) string {
	if argv1 == "" {
		return DefaultThisProgram
	}
	return strings.ReplaceAll(argv1, `\`, "/")
}

// emscriptenEnvVars are the emscripten defaults of getEnvStrings(), in order;
// "_=" + thisProgram follows them.
var emscriptenEnvVars = []string{
	"USER=web_user", "LOGNAME=web_user", "PATH=/", "PWD=/", "HOME=/home/web_user", "LANG=C.UTF-8",
}

// environStrings returns getEnvStrings() of a glue with the default strings.
func environStrings(thisProgram string) []string {
	return append(append([]string(nil), emscriptenEnvVars...), "_="+thisProgram)
}
