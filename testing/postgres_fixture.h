// A real PostgreSQL server for the tests of the PostgreSQL audit store (audit/pg_store.h):
// initdb into a scratch folder, the server on a free loopback port (and a socket in that
// folder), a login role with a password, and a fresh database per test. Stopped, and its
// folder removed, when the test process ends. Needs libpq, which the audit library links.
//
// The server runs as the `postgres` user when the tests run as root (initdb refuses root), as
// the current user otherwise. TCP connections authenticate with SCRAM: the test role's
// password is in a password file that PGPASSFILE names for this process (and the processes it
// forks), so that URLs carry no password, as a team's would. The server's own
// synchronous_commit is off, so that a test can see the store turn it on for its sessions.
#pragma once

#include "testing/temp_dir.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace runbook::testing {

/// One PostgreSQL server. ok() says whether it runs; error() says why not.
class PostgresServer {
 public:
  /// The server every test of this process shares, started on first use (about a second).
  static PostgresServer& Shared() {
    static PostgresServer server;
    return server;
  }

  PostgresServer() : dir_("runbook-pg"), owner_(getpid()) { Start(); }
  ~PostgresServer() { Stop(); }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  /// The login role tests connect as, and its password (in the PGPASSFILE file).
  const std::string& role() const { return role_; }
  const std::string& password() const { return password_; }

  /// A new, empty database owned by role(); its URL, without a password. "" (and error())
  /// when it cannot be made.
  std::string NewDatabase() {
    const std::string name = "t" + std::to_string(++databases_);
    if (std::string e = Sql("postgres", "CREATE DATABASE " + name + " OWNER " + role_);
        !e.empty()) {
      error_ = e;
      return "";
    }
    return Url(name);
  }
  std::string Url(const std::string& database) const {
    return "postgresql://" + role_ + "@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }

  /// Runs `sql` on `database` (a name, or a URL ending in one) as the superuser, through the
  /// socket, as someone with psql would. Returns the error, "" when it worked.
  std::string Sql(const std::string& database, const std::string& sql,
                  std::string* first_value = nullptr) const {
    const std::string name = database.substr(database.rfind('/') + 1);
    const std::string conninfo =
        "host=" + dir_.path() + " port=" + std::to_string(port_) + " user=postgres dbname=" + name;
    PGconn* conn = PQconnectdb(conninfo.c_str());
    std::string error;
    if (PQstatus(conn) != CONNECTION_OK) {
      error = PQerrorMessage(conn);
    } else {
      PGresult* r = PQexec(conn, sql.c_str());
      const ExecStatusType status = PQresultStatus(r);
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        error = PQresultErrorMessage(r);
      } else if (first_value != nullptr) {
        *first_value = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "";
      }
      PQclear(r);
    }
    PQfinish(conn);
    return error.empty() ? "" : sql + ": " + error;
  }
  /// The first column of the first row of `sql` ("" when none, or on an error).
  std::string Value(const std::string& database, const std::string& sql) const {
    std::string value;
    return Sql(database, sql, &value).empty() ? value : "";
  }

  /// Gives login role `role` a new password and adds it to the PGPASSFILE file, as a team
  /// member's ~/.pgpass holds it, so that URLs naming the role need no password. Returns the
  /// error, "" when it worked.
  std::string SetPassword(const std::string& role) {
    const std::string password = RandomHex(12);
    if (std::string e = Sql("postgres", "ALTER ROLE \"" + role + "\" PASSWORD '" + password + "'");
        !e.empty()) {
      return e;
    }
    const std::string line =
        "127.0.0.1:" + std::to_string(port_) + ":*:" + role + ":" + password + "\n";
    // libpq takes the first line that matches: the new one goes first.
    dir_.Write("pgpass", line + ReadFile(dir_ / "pgpass"));
    chmod((dir_ / "pgpass").c_str(), 0600);
    return "";
  }

  /// Runs the server's psql as the superuser, through the socket, with `args` (say "-f",
  /// FILE, "-v", "name=value"), as a DBA would. Returns its exit status (-1 when it did not
  /// run) and puts what it printed, stdout and stderr, in `*output`.
  int Psql(const std::vector<std::string>& args, std::string* output) const {
    auto quote = [](const std::string& s) {
      std::string q = "'";
      for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      return q + "'";
    };
    std::string cmd = quote(BinDir() + "/psql") + " -X -h " + quote(dir_.path()) + " -p " +
                      std::to_string(port_) + " -U postgres";
    for (const std::string& a : args) cmd += " " + quote(a);
    cmd += " 2>&1 </dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return -1;
    output->clear();
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
    const int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  // The newest installed server's programs (Debian keeps them out of PATH).
  static std::string BinDir() {
    if (const char* dir = getenv("RUNBOOK_PG_BINDIR")) return dir;
    glob_t g{};
    std::string found;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
      found = g.gl_pathv[g.gl_pathc - 1];
      found.resize(found.size() - std::string("/initdb").size());
    }
    globfree(&g);
    return found;
  }

  static int FreePort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
    close(fd);
    return port;
  }

  static std::string RandomHex(int bytes) {
    std::random_device rd;
    std::string out;
    const char* digits = "0123456789abcdef";
    for (int i = 0; i < bytes; ++i) {
      const unsigned v = rd() & 0xff;
      out += digits[v >> 4];
      out += digits[v & 0xf];
    }
    return out;
  }

  // Forks and runs `argv` as the server's user, output to `log`; the child dies with us.
  pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) const {
    // Everything the child needs is made before fork: it only makes system calls.
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = fork();
    if (pid != 0) return pid;
    if (as_postgres_) {
      if (setgroups(0, nullptr) != 0 || setgid(gid_) != 0 || setuid(uid_) != 0) _exit(126);
    }
    prctl(PR_SET_PDEATHSIG, SIGQUIT);  // after setuid, which clears it
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(out, 1);
    dup2(out, 2);
    execv(args[0], args.data());
    _exit(127);
  }

  void Start() {
    const std::string bin = BinDir();
    if (bin.empty()) {
      error_ =
          "no PostgreSQL server in /usr/lib/postgresql/*/bin (scripts/setup.sh installs "
          "postgresql)";
      return;
    }
    if (dir_.path().empty()) {
      error_ = "cannot make a scratch folder";
      return;
    }
    if (geteuid() == 0) {
      const passwd* user = getpwnam("postgres");
      if (user == nullptr) {
        error_ = "running as root and there is no postgres user to run the server as";
        return;
      }
      as_postgres_ = true;
      uid_ = user->pw_uid;
      gid_ = user->pw_gid;
      if (chown(dir_.path().c_str(), uid_, gid_) != 0) {
        error_ = "cannot hand " + dir_.path() + " to the postgres user";
        return;
      }
    }
    chmod(dir_.path().c_str(), 0700);
    const std::string log = dir_ / "server.log";
    const std::string pwfile = dir_.Write("superuser.pw", RandomHex(16) + "\n");
    if (as_postgres_ && chown(pwfile.c_str(), uid_, gid_) != 0) {
      error_ = "cannot hand " + pwfile + " to the postgres user";
      return;
    }
    pid_t initdb = Spawn(
        {bin + "/initdb", "-D", dir_ / "data", "-U", "postgres", "-E", "UTF8", "--locale=C",
         "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile=" + pwfile},
        log);
    int status = 0;
    waitpid(initdb, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      error_ = "initdb failed: " + ReadFile(log);
      return;
    }
    for (int attempt = 0; attempt < 5 && !ok(); ++attempt) StartServer(bin, log);
    if (!ok()) return;
    role_ = "runbook";
    password_ = RandomHex(12);
    if (std::string e =
            Sql("postgres", "CREATE ROLE " + role_ + " LOGIN PASSWORD '" + password_ + "'");
        !e.empty()) {
      error_ = e;
      Stop();
      return;
    }
    // libpq ignores a password file that others may read.
    const std::string passfile = dir_.Write(
        "pgpass", "127.0.0.1:" + std::to_string(port_) + ":*:" + role_ + ":" + password_ + "\n");
    chmod(passfile.c_str(), 0600);
    setenv("PGPASSFILE", passfile.c_str(), 1);
    unsetenv("PGPASSWORD");
  }

  void StartServer(const std::string& bin, const std::string& log) {
    port_ = FreePort();
    pid_ = Spawn({bin + "/postgres", "-D", dir_ / "data", "-p", std::to_string(port_), "-k",
                  dir_.path(), "-c", "listen_addresses=127.0.0.1", "-c", "synchronous_commit=off",
                  "-c", "max_connections=200", "-c", "shared_buffers=32MB"},
                 log);
    const std::string conninfo = "host=" + dir_.path() + " port=" + std::to_string(port_) +
                                 " user=postgres dbname=postgres connect_timeout=2";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) break;  // the port was taken, say
      if (PQping(conninfo.c_str()) == PQPING_OK) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    error_ = "the PostgreSQL server did not start: " + ReadFile(log);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

  void Stop() {
    // Only the process that started it: a forked test child must not stop the server.
    if (pid_ <= 0 || getpid() != owner_) return;
    kill(pid_, SIGINT);  // fast shutdown: ends the sessions, no waiting for clients
    for (int i = 0; i < 500; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = 0;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

  TempDir dir_;
  pid_t owner_;
  bool as_postgres_ = false;  // root runs the server as the postgres user
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = 0;
  int port_ = 0;
  int databases_ = 0;
  std::string role_;
  std::string password_;
  std::string error_;
};

}  // namespace runbook::testing
