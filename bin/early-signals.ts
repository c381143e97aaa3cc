/**
 * Imported first by the CLI, before anything that takes time to load: until a
 * process's own handlers are in place, SIGUSR1 (logrotate's reopen, passed on
 * by the master) would open Node's inspector on 127.0.0.1:9229, and SIGUSR2
 * (a proxy restart) would end the process, its default action. Both are
 * ignored here; the master, the proxy and the backends add their own.
 */
process.on('SIGUSR1', () => {});
process.on('SIGUSR2', () => {});
