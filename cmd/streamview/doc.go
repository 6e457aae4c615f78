// Command streamview is the one binary of the streamview pipeline. Run
// `streamview help` for its subcommands.
//
// It owns flags, environment and wiring: with bench, it is the only package
// that imports concrete sinks (sinks/redisview, sinks/esindex,
// sinks/bleveindex) and hands them to the runtime, the API and rebuilds as
// the ports those define. It owns no pipeline logic of its own.
package main
