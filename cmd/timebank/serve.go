package main

import "errors"

// serveCmd is a placeholder until its issue lands.
type serveCmd struct{}

// Run is not implemented yet.
func (c *serveCmd) Run() error { return errors.New("serve: not implemented yet") }
