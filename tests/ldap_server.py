"""A real OpenLDAP server (Debian's slapd) for the tests: a throwaway slapd.conf and database in a temporary
folder, loaded with slapadd, listening on a free 127.0.0.1 port.

The people of example.org: Erin (IT agent), Ivan (IT lead, Erin's manager), Hedda (HR manager, VIP), Sam
(service manager), Dora (disabled), Nina (in no mapped group).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.net import free_port

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
BASE = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "admin-secret"
READER_DN = f"cn=reader,ou=services,{BASE}"
READER_PASSWORD = "reader-secret"
PASSWORD = "Directory pass 42"  # every person's password

GROUPS = {
    "it-agents": ["erin"],
    "it-leads": ["ivan"],
    "HR Managers": ["hedda"],
    "ServiceManagers": ["sam"],
    "Staff": ["erin", "ivan", "hedda", "sam", "dora", "nina"],
}
MAPPING = {
    f"cn=it-agents,ou=groups,{BASE}": ["desk:it:agent"],
    f"cn=it-leads,ou=groups,{BASE}": ["desk:it:manager"],
    "HR Managers": ["desk:hr:manager"],
    "ServiceManagers": ["service-manager"],
}


def person_ldif(uid: str, given: str, surname: str, *, department: str = "", manager: str = "",
                employee_type: str = "", vip: bool = False) -> str:
    lines = [
        f"dn: uid={uid},ou=people,{BASE}",
        "objectClass: inetOrgPerson",
        f"uid: {uid}",
        f"cn: {given} {surname}",
        f"givenName: {given}",
        f"sn: {surname}",
        f"displayName: {given} {surname}",
        f"mail: {uid}@example.org",
        f"userPassword: {PASSWORD}",
    ]
    if department:
        lines.append(f"departmentNumber: {department}")
    if manager:
        lines.append(f"manager: uid={manager},ou=people,{BASE}")
    if employee_type:
        lines.append(f"employeeType: {employee_type}")
    if vip:
        lines.append("businessCategory: VIP")
    return "\n".join(lines) + "\n"


def directory_ldif() -> str:
    entries = [
        f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n",
        f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: ou=services,{BASE}\nobjectClass: organizationalUnit\nou: services\n",
        f"dn: {READER_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\n"
        f"userPassword: {READER_PASSWORD}\n",
        person_ldif("ivan", "Ivan", "Lead", department="IT"),
        person_ldif("erin", "Erin", "Agent", department="IT", manager="ivan"),
        person_ldif("hedda", "Hedda", "People", department="HR", vip=True),
        person_ldif("sam", "Sam", "Service", department="Service Management"),
        person_ldif("dora", "Dora", "Gone", department="Finance", employee_type="disabled"),
        person_ldif("nina", "Nina", "Plain", department="Sales", manager="hedda"),
    ]
    for name, members in GROUPS.items():
        # groupOfNames needs a member: the service account keeps each group valid when a test empties it.
        member_lines = f"member: {READER_DN}\n" + "".join(f"member: uid={m},ou=people,{BASE}\n" for m in members)
        entries.append(f"dn: cn={name},ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: {name}\n{member_lines}")
    return "\n".join(entries)




class LdapServer:
    """One slapd process; `stop()` ends it and removes its folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="outcomedesk-slapd-"))
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.certificate = self.folder / "cert.pem"

    def start(self) -> LdapServer:
        data = self.folder / "data"
        data.mkdir()
        # A self-signed certificate for 127.0.0.1, for StartTLS (the tests pass it as the CA file).
        self.certificate = self.folder / "cert.pem"
        key = self.folder / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                        str(self.certificate)], check=True, capture_output=True)
        conf = self.folder / "slapd.conf"
        conf.write_text(f"""
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {self.folder}/slapd.pid
argsfile {self.folder}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "{BASE}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory {data}
TLSCertificateFile {self.certificate}
TLSCertificateKeyFile {key}
access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by dn.exact="{READER_DN}" read
  by self read
  by * none
""")
        ldif = self.folder / "directory.ldif"
        ldif.write_text(directory_ldif())
        subprocess.run([SLAPADD, "-f", str(conf), "-l", str(ldif)], check=True, capture_output=True)
        self.process = subprocess.Popen(  # -d keeps slapd in the foreground, a child of the tests
            [SLAPD, "-f", str(conf), "-h", f"{self.url}/", "-d", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                errors = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"slapd exited: {errors}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"slapd did not listen on {self.url}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def admin(self) -> Any:
        """A connection bound as the directory's administrator, to change it during a test."""
        import ldap

        conn = ldap.initialize(self.url)
        conn.simple_bind_s(ADMIN_DN, ADMIN_PASSWORD)
        return conn

    def add_person(self, uid: str, given: str, surname: str, **fields: Any) -> str:
        import ldap.modlist

        text = person_ldif(uid, given, surname, **fields)
        attrs: dict[str, list[bytes]] = {}
        dn = ""
        for line in text.strip().splitlines():
            key, _, value = line.partition(": ")
            if key == "dn":
                dn = value
            else:
                attrs.setdefault(key, []).append(value.encode())
        conn = self.admin()
        conn.add_s(dn, ldap.modlist.addModlist(attrs))
        conn.unbind_s()
        return dn

    def delete(self, dn: str) -> None:
        conn = self.admin()
        conn.delete_s(dn)
        conn.unbind_s()

    def set_member(self, group: str, uid: str, *, member: bool) -> None:
        import ldap

        op = ldap.MOD_ADD if member else ldap.MOD_DELETE
        conn = self.admin()
        conn.modify_s(f"cn={group},ou=groups,{BASE}", [(op, "member", f"uid={uid},ou=people,{BASE}".encode())])
        conn.unbind_s()


def slapd_available() -> bool:
    return os.path.exists(SLAPD) and os.path.exists(SLAPADD)
