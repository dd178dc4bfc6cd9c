package main

import (
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// TestConfigurationTableMatchesFlags: README's Configuration table and the command line
// agree, both ways. Each row's flags exist on each command it names, read the variable the
// row names and default to what the row says; each command's flags all have a row; a
// variable without a flag (TIMEBANK_ADMIN_TOKEN) is told in the command's --help. An operator
// reads one or the other, and both are copied into scripts.
func TestConfigurationTableMatchesFlags(t *testing.T) {
	cleanEnv(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var c cli
	k := newParser(&c, io.Discard, io.Discard)
	commands := map[string]*kong.Node{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, ch := range n.Children {
			if !ch.Hidden {
				if len(ch.Children) == 0 {
					commands[ch.Path()] = ch
				}
				walk(ch)
			}
		}
	}
	walk(k.Model.Node)

	documented := map[string]map[string]bool{} // command → flags with a row
	row := regexp.MustCompile("(?m)^\\| ([a-z, ]+) \\| (.*?) \\| (.*?) \\| (.*?) \\| .* \\|$")
	code := regexp.MustCompile("`([^`]*)`")
	rows := row.FindAllStringSubmatch(string(readme), -1)
	if len(rows) < 10 {
		t.Fatalf("README's Configuration table has %d rows; did its layout change?", len(rows))
	}
	for _, r := range rows[1:] { // the header, then the rows
		flags, envs := code.FindAllStringSubmatch(r[2], -1), code.FindAllStringSubmatch(r[3], -1)
		defaults := strings.Split(r[4], ", ")
		for _, name := range strings.Split(r[1], ", ") {
			var nodes []*kong.Node
			for path, n := range commands {
				if path == name || strings.HasPrefix(path, name+" ") {
					nodes = append(nodes, n)
				}
			}
			if len(nodes) == 0 {
				t.Errorf("README's table names a command %q that timebank does not have", name)
			}
			for _, n := range nodes {
				if documented[n.Path()] == nil {
					documented[n.Path()] = map[string]bool{}
				}
				if len(flags) == 0 { // a variable alone: its command's --help must tell it
					for _, env := range envs {
						if !strings.Contains(n.Help+n.Detail, env[1]) {
							t.Errorf("timebank %s --help does not mention %s (README, Configuration)", n.Path(), env[1])
						}
					}
				}
				for i, f := range flags {
					flag := findFlag(n, strings.TrimPrefix(f[1], "--"))
					if flag == nil {
						t.Errorf("README's table gives %s %s, which timebank %s does not have", name, f[1], n.Path())
						continue
					}
					documented[n.Path()][flag.Name] = true
					if i < len(envs) && !strings.Contains(envs[i][1], "…") && !slices.Contains(flag.Envs, envs[i][1]) {
						t.Errorf("timebank %s %s reads %v; README says %s", n.Path(), f[1], flag.Envs, envs[i][1])
					}
					if i < len(defaults) {
						// --name has no default of kong's, so that a ledger keeps its own; its help tells the
						// name a new ledger gets.
						if want, ok := tableDefault(defaults[i]); ok && flag.Default != want &&
							!(flag.Default == "" && strings.Contains(flag.Help, "(default "+want+";")) {
							t.Errorf("timebank %s %s defaults to %q; README says %s", n.Path(), f[1], flag.Default, defaults[i])
						}
					}
				}
			}
		}
	}
	for path, n := range commands {
		for _, f := range n.Flags {
			if f.Name != "help" && !documented[path][f.Name] {
				t.Errorf("timebank %s --%s has no row in README's Configuration table", path, f.Name)
			}
		}
	}
}

// findFlag returns n's flag called name, or nil.
func findFlag(n *kong.Node, name string) *kong.Flag {
	for _, f := range n.Flags {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// tableDefault reads a default of README's table as kong holds it: the value in backquotes,
// or none for the words that say there is none. ok is false for a cell it cannot read.
func tableDefault(cell string) (value string, ok bool) {
	cell = strings.TrimSpace(cell)
	if m := regexp.MustCompile("^`([^`]*)`").FindStringSubmatch(cell); m != nil {
		return m[1], true
	}
	switch {
	case cell == "—", cell == "none", cell == "off", cell == "standard output", strings.HasPrefix(cell, "empty"):
		return "", true
	}
	return "", false
}
