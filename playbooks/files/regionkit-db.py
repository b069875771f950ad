"""regionkit-db: one database and one user per app, reachable only from the database clients.

Run on a database host by the mariadb and postgresql roles (as root, through ansible.builtin.command):
`python3 -c "<bootstrap>"` reads {"script": <this text>, ...spec} from stdin and calls main(spec); the spec
(never in argv, so passwords stay out of process lists and logs):
    {"engine": "mariadb" | "postgresql", "check": false, "clients": ["10.0.0.12"],
     "apps": [{"db": "e_office", "user": "e_office", "password": "..."}]}
check is true in --check mode: the needed actions are computed and reported, nothing is changed.
Prints one JSON line: {"changed": bool, "actions": ["create database e_office", ...]}; no secrets in it.

It reads the server's state first, so that a rerun changes nothing:
- mariadb (client `mysql` as root over the socket): CREATE DATABASE (utf8mb4) when missing; a user
  'user'@'client' per client, created or given the password again when its hash differs; ALL PRIVILEGES on
  its database; users of these names at any other host are dropped (only the clients may connect).
- postgresql (client `psql` as the postgres user): a LOGIN role per app whose SCRAM-SHA-256 verifier is
  computed here (the server never sees the password) and replaced only when the password no longer matches;
  the database, owned by that role. Which addresses may connect is pg_hba's job (the role writes it).
"""
import base64
import hashlib
import hmac
import ipaddress
import json
import os
import re
import stringprep
import subprocess
import sys
import unicodedata

IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Failure(Exception):
    pass


def run(argv, sql, secrets=()):
    proc = subprocess.run(argv, input=sql, capture_output=True, text=True, cwd="/")
    if proc.returncode != 0:
        # First line only, and never the statement text a server quotes back (it may hold a password).
        err = (proc.stderr.strip().splitlines() or ["no message"])[0].split(" near '")[0]
        for secret in secrets:
            err = err.replace(secret, "********")
        raise Failure(f"{'psql' if argv[0] == 'runuser' else argv[0]} failed: {err}")
    return [line.split("\t") for line in proc.stdout.splitlines() if line]


# ---------------------------------------------------------------- MariaDB

def my_str(value):
    if "\0" in value:
        raise Failure("a password contains a NUL character")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def my_grant_db(name):
    return name.replace("_", "\\_")       # _ is a wildcard in GRANT ... ON `db`.*


def mariadb(spec, check):
    mysql = ["mysql", "--protocol=socket", "--user=root", "--batch", "--skip-column-names", "--raw"]
    apps, clients = spec["apps"], spec["clients"]
    passwords = [a["password"] for a in apps]
    users = sorted({a["user"] for a in apps})
    if not apps:
        return []
    user_list = ", ".join(my_str(u) for u in users)
    dbs = {r[0] for r in run(mysql, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA;")}
    accounts = {(r[0], r[1]): (r[2], r[3]) for r in run(
        mysql, f"SELECT User, Host, plugin, authentication_string FROM mysql.user WHERE User IN ({user_list});")}
    granted = {(r[0], r[1], r[2]) for r in run(mysql, (
        f"SELECT User, Host, Db FROM mysql.db WHERE User IN ({user_list}) AND Select_priv = 'Y' AND Insert_priv = 'Y'"
        " AND Update_priv = 'Y' AND Delete_priv = 'Y' AND Create_priv = 'Y' AND Drop_priv = 'Y'"
        " AND Alter_priv = 'Y' AND Index_priv = 'Y';"))}
    hashes = {r[0]: r[1] for r in run(mysql, "".join(
        f"SELECT {my_str(a['user'])}, PASSWORD({my_str(a['password'])});\n" for a in apps), passwords)}

    actions, sql = [], []
    for a in apps:
        db, user, pw = a["db"], a["user"], a["password"]
        if db not in dbs:
            actions.append(f"create database {db}")
            sql.append(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;")
        for client in clients:
            account = f"{my_str(user)}@{my_str(client)}"
            current = accounts.get((user, client))
            if current is None:
                actions.append(f"create user {user}@{client}")
                sql.append(f"CREATE USER {account} IDENTIFIED BY {my_str(pw)};")
            elif current != ("mysql_native_password", hashes[user]):
                actions.append(f"set the password of {user}@{client}")
                sql.append(f"ALTER USER {account} IDENTIFIED BY {my_str(pw)};")
            if (user, client, my_grant_db(db)) not in granted:
                actions.append(f"grant all on {db} to {user}@{client}")
                sql.append(f"GRANT ALL PRIVILEGES ON `{my_grant_db(db)}`.* TO {account};")
    for (user, host) in sorted(accounts):
        if host not in clients:
            actions.append(f"drop user {user}@{host} (not a database client)")
            sql.append(f"DROP USER {my_str(user)}@{my_str(host)};")
    if sql and not check:
        run(mysql, "\n".join(sql) + "\n", passwords)
    return actions


# ---------------------------------------------------------------- PostgreSQL

def saslprep(password):
    """RFC 4013 as PostgreSQL applies it; a password it cannot prepare is used as it is."""
    if password.isascii():
        return password
    mapped = "".join(" " if stringprep.in_table_c12(c) else c for c in password if not stringprep.in_table_b1(c))
    prepared = unicodedata.normalize("NFKC", mapped)
    prohibited = (stringprep.in_table_c12, stringprep.in_table_c21_c22, stringprep.in_table_c3, stringprep.in_table_c4,
                  stringprep.in_table_c5, stringprep.in_table_c6, stringprep.in_table_c7, stringprep.in_table_c8,
                  stringprep.in_table_c9, stringprep.in_table_a1)
    if not prepared or any(check(c) for c in prepared for check in prohibited):
        return password
    return prepared


def scram_keys(password, salt, iterations):
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password).encode(), salt, iterations)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    return stored, hmac.new(salted, b"Server Key", "sha256").digest()


def scram_matches(verifier, password):
    m = re.match(r"^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$", verifier or "")
    if not m:
        return False
    stored, server = scram_keys(password, base64.b64decode(m.group(2)), int(m.group(1)))
    return (hmac.compare_digest(stored, base64.b64decode(m.group(3)))
            and hmac.compare_digest(server, base64.b64decode(m.group(4))))


def scram_verifier(password, iterations=4096):
    salt = os.urandom(16)
    stored, server = scram_keys(password, salt, iterations)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored)}:{b64(server)}"


def pg_str(value):
    if "\0" in value:
        raise Failure("a value contains a NUL character")
    return "'" + value.replace("'", "''") + "'"


def postgresql(spec, check):
    psql = ["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-A", "-t", "-F", "\t",
            "-v", "ON_ERROR_STOP=1", "-d", "postgres"]
    apps = spec["apps"]
    if not apps:
        return []
    names = ", ".join(pg_str(a["user"]) for a in apps)
    roles = {r[0]: (r[1], r[2] == "t") for r in run(
        psql, f"SELECT rolname, coalesce(rolpassword, ''), rolcanlogin FROM pg_authid WHERE rolname IN ({names});")}
    dbs = {r[0]: r[1] for r in run(psql, "SELECT datname, pg_get_userbyid(datdba) FROM pg_database;")}

    actions, sql = [], []
    for a in apps:
        db, user, pw = a["db"], a["user"], a["password"]
        if user not in roles:
            actions.append(f"create role {user}")
            sql.append(f'CREATE ROLE "{user}" LOGIN PASSWORD {pg_str(scram_verifier(pw))};')
        else:
            verifier, login = roles[user]
            if not login:
                actions.append(f"allow role {user} to log in")
                sql.append(f'ALTER ROLE "{user}" LOGIN;')
            if not scram_matches(verifier, pw):
                actions.append(f"set the password of role {user}")
                sql.append(f'ALTER ROLE "{user}" PASSWORD {pg_str(scram_verifier(pw))};')
        if db not in dbs:
            actions.append(f"create database {db}")
            sql.append(f'CREATE DATABASE "{db}" OWNER "{user}" ENCODING \'UTF8\' TEMPLATE template0'
                       " LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8';")
        elif dbs[db] != user:
            actions.append(f"make {user} the owner of database {db}")
            sql.append(f'ALTER DATABASE "{db}" OWNER TO "{user}";')
    if sql and not check:
        run(psql, "\n".join(sql) + "\n")
    return actions


def run_spec(spec):
    engine, check = spec["engine"], bool(spec.get("check"))
    for a in spec["apps"]:
        if not (IDENT.match(a["db"]) and IDENT.match(a["user"])):
            raise Failure(f"not a plain database or user name: {a['db']!r}, {a['user']!r}")
        if not a["password"]:
            raise Failure(f"empty password for {a['user']}")
    spec["clients"] = [str(ipaddress.ip_address(c)) for c in spec.get("clients", [])]
    actions = {"mariadb": mariadb, "postgresql": postgresql}[engine](spec, check)
    print(json.dumps({"changed": bool(actions), "actions": actions}))


def main(spec):
    try:
        run_spec(spec)
    except (Failure, OSError, KeyError, ValueError) as exc:
        print(json.dumps({"changed": False, "failed": True, "msg": str(exc)}))
        sys.exit(1)


if __name__ == "__main__":
    main(json.load(sys.stdin))
