/*
 * mksamples.c - the generator of plcguard's own samples (samples/projects).
 *
 * Everything the demo and the tests run on comes from here, deterministic
 * byte for byte, so the samples can be regenerated and compared:
 *   pump_station/          a Beremiz-style project folder: plc.xml (PLCopen
 *                          TC6 XML), beremiz.xml, a lock file that the
 *                          default exclusions leave out
 *   s7_blocks/             MC7 blocks as downloaded to an S7-300/400:
 *                          OB1 (STL), FC10 (LAD), FB20 (SCL), DB1 (DB)
 *   line3.zap16            a ZIP archive in TIA Portal V16's exact layout
 *                          (samples/gen/tiazip.h: Zip64 extras in the local
 *                          headers only, version 45 local / 20 central, '\\'
 *                          separators, folder entries, deflate) holding a
 *                          PLCopen export and the blocks
 *
 * usage: pg-mksamples OUTDIR
 * Variants for tests: pg-mksamples --block TYPE NUMBER CODEBYTE TS OUTFILE
 * writes one block whose code is filled with CODEBYTE and whose timestamps
 * are TS (so tests can make "logic changed" and "timestamps only" variants).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tiazip.h"

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			perror("realloc");
			exit(1);
		}
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void put8(struct buf *b, unsigned v) { uint8_t x = (uint8_t)v; put(b, &x, 1); }
static void put16(struct buf *b, unsigned v) { put8(b, v >> 8); put8(b, v); }
static void put32(struct buf *b, uint32_t v) { put16(b, v >> 16); put16(b, v & 0xffff); }

static void put_ts(struct buf *b, uint32_t ms, uint16_t days)
{
	put32(b, ms);
	put16(b, days);
}

static void put_name8(struct buf *b, const char *s)
{
	char t[8] = { 0 };
	memcpy(t, s, strlen(s) < 8 ? strlen(s) : 8);
	put(b, t, 8);
}

/*
 * One MC7 block (PROTOCOLS.md section 3): 36-byte header, code, interface,
 * segment table, 36-byte footer.  The code bytes are a deterministic pattern
 * seeded by `seed`, so two seeds give two different programs.
 */
static struct buf make_block(unsigned type, unsigned number, unsigned lang,
			     size_t code_len, size_t iface_len, size_t seg_len,
			     unsigned seed, uint32_t ts_ms, uint16_t ts_days,
			     const char *author, const char *family, const char *name)
{
	struct buf b = { 0 };
	size_t total = 36 + code_len + iface_len + seg_len + 36;
	put8(&b, 'p');
	put8(&b, 'p');
	put8(&b, 0x01);          /* block version */
	put8(&b, 0x01);          /* attributes */
	put8(&b, lang);
	put8(&b, type);
	put16(&b, number);
	put32(&b, (uint32_t)total);
	put32(&b, 0);            /* no know-how protection */
	put_ts(&b, ts_ms, ts_days);          /* code timestamp */
	put_ts(&b, ts_ms + 1000, ts_days);   /* interface timestamp */
	put16(&b, (unsigned)iface_len);
	put16(&b, (unsigned)seg_len);
	put16(&b, 20);           /* local data */
	put16(&b, (unsigned)code_len);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < code_len; i++) {
		x = x * 1103515245u + 12345u;
		put8(&b, (x >> 16) & 0xff);
	}
	for (size_t i = 0; i < iface_len; i++)
		put8(&b, (unsigned)(0x10 + i % 7));
	for (size_t i = 0; i < seg_len; i++)
		put8(&b, (unsigned)(i & 1 ? 0x00 : 0x02));
	put_name8(&b, author);
	put_name8(&b, family);
	put_name8(&b, name);
	put8(&b, 0x10);          /* header version 1.0 */
	put8(&b, 0x00);
	unsigned sum = 0;
	for (size_t i = 0; i < b.n; i++)
		sum = (sum + b.p[i]) & 0xffff;
	put16(&b, sum);          /* checksum at total - 10 */
	for (int i = 0; i < 8; i++)
		put8(&b, 0);
	if (b.n != total) {
		fprintf(stderr, "internal: block size %zu != %zu\n", b.n, total);
		exit(1);
	}
	return b;
}

static void write_file(const char *dir, const char *name, const void *d, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void mkdir_p(const char *p)
{
	if (mkdir(p, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "%s: %s\n", p, strerror(errno));
		exit(1);
	}
}

static const char plc_xml[] =
"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
"<project xmlns=\"http://www.plcopen.org/xml/tc6_0201\" xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">\n"
"  <fileHeader companyName=\"plcguard samples\" productName=\"Pump Station\" productVersion=\"1.4\" creationDateTime=\"2026-11-02T09:00:00\"/>\n"
"  <contentHeader name=\"pump_station\" modificationDateTime=\"2026-11-20T16:45:00\">\n"
"    <coordinateInfo>\n"
"      <fbd><scaling x=\"10\" y=\"10\"/></fbd>\n"
"      <ld><scaling x=\"10\" y=\"10\"/></ld>\n"
"      <sfc><scaling x=\"10\" y=\"10\"/></sfc>\n"
"    </coordinateInfo>\n"
"  </contentHeader>\n"
"  <types>\n"
"    <dataTypes>\n"
"      <dataType name=\"PumpState\">\n"
"        <baseType>\n"
"          <enum><values><value name=\"STOPPED\"/><value name=\"RUNNING\"/><value name=\"FAULT\"/></values></enum>\n"
"        </baseType>\n"
"      </dataType>\n"
"    </dataTypes>\n"
"    <pous>\n"
"      <pou name=\"Scale\" pouType=\"function\">\n"
"        <interface>\n"
"          <returnType><REAL/></returnType>\n"
"          <inputVars>\n"
"            <variable name=\"Raw\"><type><INT/></type></variable>\n"
"            <variable name=\"Span\"><type><REAL/></type></variable>\n"
"          </inputVars>\n"
"        </interface>\n"
"        <body>\n"
"          <ST><xhtml:p><![CDATA[Scale := INT_TO_REAL(Raw) * Span / 27648.0;]]></xhtml:p></ST>\n"
"        </body>\n"
"      </pou>\n"
"      <pou name=\"PumpControl\" pouType=\"functionBlock\">\n"
"        <interface>\n"
"          <inputVars>\n"
"            <variable name=\"Level\"><type><REAL/></type></variable>\n"
"            <variable name=\"HighLimit\"><type><REAL/></type><initialValue><simpleValue value=\"80.0\"/></initialValue></variable>\n"
"            <variable name=\"LowLimit\"><type><REAL/></type><initialValue><simpleValue value=\"20.0\"/></initialValue></variable>\n"
"          </inputVars>\n"
"          <outputVars>\n"
"            <variable name=\"Run\"><type><BOOL/></type></variable>\n"
"            <variable name=\"State\"><type><derived name=\"PumpState\"/></type></variable>\n"
"          </outputVars>\n"
"        </interface>\n"
"        <body>\n"
"          <ST><xhtml:p><![CDATA[\n"
"IF Level > HighLimit THEN\n"
"  Run := TRUE;\n"
"ELSIF Level < LowLimit THEN\n"
"  Run := FALSE;\n"
"END_IF;\n"
"IF Run THEN State := RUNNING; ELSE State := STOPPED; END_IF;\n"
"]]></xhtml:p></ST>\n"
"        </body>\n"
"        <documentation><xhtml:p><![CDATA[Starts the pump above HighLimit, stops it below LowLimit.]]></xhtml:p></documentation>\n"
"      </pou>\n"
"      <pou name=\"Main\" pouType=\"program\">\n"
"        <interface>\n"
"          <localVars>\n"
"            <variable name=\"Pump1\"><type><derived name=\"PumpControl\"/></type></variable>\n"
"            <variable name=\"LevelRaw\"><type><INT/></type></variable>\n"
"            <variable name=\"PumpOut\"><type><BOOL/></type></variable>\n"
"          </localVars>\n"
"        </interface>\n"
"        <body>\n"
"          <ST><xhtml:p><![CDATA[\n"
"Pump1(Level := Scale(LevelRaw, 100.0));\n"
"PumpOut := Pump1.Run;\n"
"]]></xhtml:p></ST>\n"
"        </body>\n"
"      </pou>\n"
"    </pous>\n"
"  </types>\n"
"  <instances>\n"
"    <configurations>\n"
"      <configuration name=\"Config0\">\n"
"        <resource name=\"Res0\">\n"
"          <task name=\"MainTask\" priority=\"0\" interval=\"T#20ms\">\n"
"            <pouInstance name=\"MainInstance\" typeName=\"Main\"/>\n"
"          </task>\n"
"        </resource>\n"
"      </configuration>\n"
"    </configurations>\n"
"  </instances>\n"
"</project>\n";

static const char beremiz_xml[] =
"<?xml version='1.0' encoding='utf-8'?>\n"
"<!-- plcguard sample project (generated by samples/gen/mksamples.c) -->\n"
"<BeremizRoot xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" URI_location=\"LOCAL://\">\n"
"  <TargetType><Linux/></TargetType>\n"
"</BeremizRoot>\n";

struct blk {
	const char *file;
	unsigned type, number, lang;
	size_t code, iface, seg;
	unsigned seed;
	const char *name;
};

static const struct blk blocks[] = {
	{ "OB1.mc7", 0x08, 1, 1, 96, 24, 8, 1, "CYCLE" },
	{ "FC10.mc7", 0x0C, 10, 2, 64, 16, 8, 10, "SCALE" },
	{ "FB20.mc7", 0x0E, 20, 4, 128, 40, 12, 20, "PUMPCTL" },
	{ "DB1.mc7", 0x0A, 1, 5, 32, 32, 0, 101, "PUMPDATA" },
};

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "--block") == 0) {
		unsigned type = (unsigned)strtoul(argv[2], NULL, 0);
		unsigned num = (unsigned)strtoul(argv[3], NULL, 0);
		unsigned seed = (unsigned)strtoul(argv[4], NULL, 0);
		uint32_t ts = (uint32_t)strtoul(argv[5], NULL, 0);
		struct buf b = make_block(type, num, 1, 80, 20, 8, seed, ts, 15000,
					  "TEST", "VARIANT", "BLOCK");
		FILE *f = fopen(argv[6], "wb");
		if (!f || fwrite(b.p, 1, b.n, f) != b.n || fclose(f)) {
			perror(argv[6]);
			return 1;
		}
		free(b.p);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: pg-mksamples OUTDIR\n"
				"       pg-mksamples --block TYPE NUMBER SEED TIMESTAMP_MS OUTFILE\n");
		return 2;
	}
	const char *out = argv[1];
	char p[4096];
	mkdir_p(out);

	snprintf(p, sizeof p, "%s/pump_station", out);
	mkdir_p(p);
	write_file(p, "plc.xml", plc_xml, sizeof plc_xml - 1);
	write_file(p, "beremiz.xml", beremiz_xml, sizeof beremiz_xml - 1);

	snprintf(p, sizeof p, "%s/s7_blocks", out);
	mkdir_p(p);
	struct buf made[4];
	for (int i = 0; i < 4; i++) {
		const struct blk *k = &blocks[i];
		made[i] = make_block(k->type, k->number, k->lang, k->code, k->iface, k->seg,
				     k->seed, 36000000u + (uint32_t)i * 60000u, 15300,
				     "PLANT", "PUMPS", k->name);
		write_file(p, k->file, made[i].p, made[i].n);
	}

	/* line3.zap16: folders first, then their files, as TIA lists them */
	static const char readme[] = "Line 3 pump station, approved build 1.4\n";
	char bnames[4][64];
	struct tz_entry ents[10];
	size_t ne = 0;
	ents[ne++] = (struct tz_entry){ "Line3\\", NULL, 0 };
	ents[ne++] = (struct tz_entry){ "Line3\\PLCopen\\", NULL, 0 };
	ents[ne++] = (struct tz_entry){ "Line3\\PLCopen\\line3.xml", plc_xml, sizeof plc_xml - 1 };
	ents[ne++] = (struct tz_entry){ "Line3\\Blocks\\", NULL, 0 };
	for (int i = 0; i < 4; i++) {
		snprintf(bnames[i], sizeof bnames[i], "Line3\\Blocks\\%s", blocks[i].file);
		ents[ne++] = (struct tz_entry){ bnames[i], made[i].p, made[i].n };
	}
	ents[ne++] = (struct tz_entry){ "Line3\\README.txt", readme, sizeof readme - 1 };
	size_t zlen = 0;
	uint8_t *zip = tiazip_build(ents, ne, NULL, &zlen);
	snprintf(p, sizeof p, "%s", out);
	write_file(p, "line3.zap16", zip, zlen);
	free(zip);
	for (int i = 0; i < 4; i++)
		free(made[i].p);
	return 0;
}
