package nn

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

// The preset files are the spec's configs (spec §2.2), in the official format.
//
//go:embed presets/*.json
var presetFS embed.FS

// PresetNames lists the built-in network presets.
func PresetNames() []string {
	entries, _ := presetFS.ReadDir("presets")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(names)
	return names
}

// Preset returns the config of a built-in preset (cnn, cnn_1x1, cnmf, cnmf_1x1,
// cnmf_nnmf1x1, cnmf_nnmfpool).
func Preset(name string) (*Config, error) {
	data, err := presetFS.ReadFile("presets/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("unknown network preset %q (want one of %s)", name, strings.Join(PresetNames(), ", "))
	}
	return ParseConfig(data, "preset "+name)
}
