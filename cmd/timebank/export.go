package main

import "errors"

// exportCmd is a placeholder until its issue lands.
type exportCmd struct{}

// Run is not implemented yet.
func (c *exportCmd) Run() error { return errors.New("export: not implemented yet") }
