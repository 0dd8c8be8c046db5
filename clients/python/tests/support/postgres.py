"""A real PostgreSQL server for a test: Debian's PostgreSQL 15 (initdb, then the postgres
binary itself as a child process, so that it is stopped by its pid) in a temporary
directory, listening only on a unix socket there (no TCP port), trust authentication.
Stopped by pid and its directory removed by stop(). PostgreSQL refuses to run as root: as root (CI), the directory is given to the
`postgres` user and the server runs as it (setpriv execs, so the pid is the server's)."""
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

BIN = "/usr/lib/postgresql/15/bin"
PORT = 5432  # names the socket file in the private directory; no TCP port is opened


class PostgresServer:
    def __init__(self):
        # Its own directory, not pytest's (whose parents only root may enter), with a short
        # path: a unix socket's path is limited to 107 bytes.
        self.directory = tempfile.mkdtemp(prefix="sb-pg-")
        self.data = os.path.join(self.directory, "data")
        self.user = "signalbus"
        self.process = None
        self._log = None

    def _as_server_user(self, argv):
        if os.geteuid() != 0:
            return argv
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + argv

    def start(self):
        for tool in ("initdb", "postgres"):
            if not os.access(os.path.join(BIN, tool), os.X_OK):
                raise AssertionError("PostgreSQL not found at %s: install Debian's postgresql (./scripts/install-deps)"
                                     % BIN)
        os.makedirs(self.directory, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        subprocess.run(self._as_server_user([os.path.join(BIN, "initdb"), "-D", self.data, "-A", "trust", "-U",
                                             self.user, "--no-sync"]),
                       check=True, capture_output=True, cwd=self.directory)
        self._log = open(os.path.join(self.directory, "postgres.log"), "wb")
        self.process = subprocess.Popen(
            self._as_server_user([os.path.join(BIN, "postgres"), "-D", self.data, "-k", self.directory, "-p",
                                  str(PORT), "-c", "listen_addresses=", "-c", "fsync=off", "-c", "max_connections=50"]),
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.directory)
        self._wait_ready(30)
        return self

    def _wait_ready(self, timeout):
        import psycopg2

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg2.connect(**self.connect_args("postgres")).close()
                return
            except psycopg2.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("PostgreSQL did not start:\n" + self.log())
                time.sleep(0.05)  # polling interval while the server starts, not synchronisation

    def connect_args(self, dbname):
        return {"host": self.directory, "port": PORT, "user": self.user, "dbname": dbname}

    def create_database(self, name):
        import psycopg2

        connection = psycopg2.connect(**self.connect_args("postgres"))
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute('CREATE DATABASE "%s"' % name)
        connection.close()
        return name

    def django_database(self, name):
        """A DATABASES entry for database `name`."""
        return {"ENGINE": "django.db.backends.postgresql", "NAME": name, "USER": self.user,
                "HOST": self.directory, "PORT": str(PORT)}

    def log(self):
        path = os.path.join(self.directory, "postgres.log")
        return open(path, errors="replace").read() if os.path.exists(path) else ""

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.directory, ignore_errors=True)
