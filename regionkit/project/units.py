"""Organisational units (OPD, PP 18/2016): their kinds and the standard list proposed for a new region."""

from __future__ import annotations

from enum import StrEnum


class UnitKind(StrEnum):
    OPD = "opd"
    KECAMATAN = "kecamatan"
    KELURAHAN = "kelurahan"
    UPTD = "uptd"


# (acronym, name): the perangkat daerah a kabupaten/kota usually has. Regions edit the list after `init`.
# Provinces have no kecamatan and some units only exist at one level; see `standard_opd`.
STANDARD_OPD: tuple[tuple[str, str], ...] = (
    ("SETDA", "Sekretariat Daerah"),
    ("SETWAN", "Sekretariat DPRD"),
    ("INSPEKTORAT", "Inspektorat"),
    ("DISDIK", "Dinas Pendidikan"),
    ("DINKES", "Dinas Kesehatan"),
    ("DPUPR", "Dinas Pekerjaan Umum dan Penataan Ruang"),
    ("DISPERKIM", "Dinas Perumahan Rakyat dan Kawasan Permukiman"),
    ("SATPOLPP", "Satuan Polisi Pamong Praja"),
    ("DAMKAR", "Dinas Pemadam Kebakaran dan Penyelamatan"),
    ("DINSOS", "Dinas Sosial"),
    ("DISNAKER", "Dinas Tenaga Kerja"),
    ("DP3A", "Dinas Pemberdayaan Perempuan dan Perlindungan Anak"),
    ("DKP", "Dinas Ketahanan Pangan"),
    ("DLH", "Dinas Lingkungan Hidup"),
    ("DISDUKCAPIL", "Dinas Kependudukan dan Pencatatan Sipil"),
    ("DPMD", "Dinas Pemberdayaan Masyarakat dan Desa"),
    ("DPPKB", "Dinas Pengendalian Penduduk dan Keluarga Berencana"),
    ("DISHUB", "Dinas Perhubungan"),
    ("DISKOMINFO", "Dinas Komunikasi dan Informatika"),
    ("DISKOPUKM", "Dinas Koperasi dan Usaha Kecil Menengah"),
    ("DPMPTSP", "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu"),
    ("DISPORA", "Dinas Kepemudaan dan Olahraga"),
    ("DISBUDPAR", "Dinas Kebudayaan dan Pariwisata"),
    ("DISPUSIP", "Dinas Perpustakaan dan Kearsipan"),
    ("DISKAN", "Dinas Perikanan"),
    ("DISTAN", "Dinas Pertanian"),
    ("DISPERINDAG", "Dinas Perdagangan dan Perindustrian"),
    ("BAPPEDA", "Badan Perencanaan Pembangunan Daerah"),
    ("BPKAD", "Badan Pengelolaan Keuangan dan Aset Daerah"),
    ("BAPENDA", "Badan Pendapatan Daerah"),
    ("BKPSDM", "Badan Kepegawaian dan Pengembangan Sumber Daya Manusia"),
    ("KESBANGPOL", "Badan Kesatuan Bangsa dan Politik"),
    ("BPBD", "Badan Penanggulangan Bencana Daerah"),
    ("RSUD", "Rumah Sakit Umum Daerah"),
)

_KABKOTA_ONLY = {"DISDUKCAPIL", "DAMKAR", "DPPKB", "DKP"}
_KABUPATEN_ONLY = {"DPMD"}
_PROVINCE_EXTRA = (("DESDM", "Dinas Energi dan Sumber Daya Mineral"), ("DISHUT", "Dinas Kehutanan"))


def standard_opd(level: str) -> list[tuple[str, str]]:
    """The standard OPD for `provinsi`, `kabupaten` or `kota`."""
    if level == "provinsi":
        return [u for u in STANDARD_OPD if u[0] not in _KABKOTA_ONLY | _KABUPATEN_ONLY] + list(_PROVINCE_EXTRA)
    if level == "kota":
        return [u for u in STANDARD_OPD if u[0] not in _KABUPATEN_ONLY]
    return list(STANDARD_OPD)
