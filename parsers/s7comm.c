/*
 * s7comm.c - decode one S7comm PDU (parsers/s7comm.h).
 *
 * Follows ../shared/docs/PROTOCOLS.md section 2; parameter layouts were
 * checked byte by byte against the real download in the corpus
 * (s7comm_downloading_block_db1.pcap) and the Start Upload jobs in
 * s7ident.pcap.  The header is strict (header + param + data must equal the
 * PDU length, as tshark also demands) because the collector hashes what the
 * data part carries: a PDU whose lengths disagree is not trusted at all.
 * Parameter decoding is separate (return 1) so that a session can still
 * pair and trace a PDU whose parameters are odd.
 *
 *   1A job      1A st ?? ?? ?? ?? ?? ?? 09 _0A00001P 0D '1' dddddd dddddd
 *   1B job      1B st ?? ?? ?? ?? ?? ?? 09 _0A00001P
 *   1B ackdata  1B fs            data: LL LL 00 FB <LLLL slice bytes>
 *   1C job      1C st EE EE ?? ?? ?? ?? 09 _0A00001P
 *   1D job      1D st ?? ?? II II II II 09 _0A00001A
 *   1D ackdata  1D st ?? ?? II II II II NN <NN ASCII digits: total length>
 *   1E job      1E st ?? ?? II II II II     ackdata: as 1B
 *   1F job      1F st EE EE II II II II
 *   28 job      28 ?? ?? ?? ?? ?? ?? ?? BB BB <BBBB block> NN <service>
 *               _INSE/_DELE block: count 00 {tt nnnnn f}*count
 *   29 job      29 00 00 00 00 00 09 P_PROGRAM
 *   userdata    00 01 12 LL method type|group subfunc seq ...
 */
#include "s7comm.h"

#include <string.h>

#include "cursor.h"
#include "mc7.h"

/* n ASCII decimal digits -> *v; -1 on a non-digit or a short read. */
static int s7_ascii_num(struct cur *c, size_t n, uint32_t *v)
{
	uint32_t acc = 0;
	if (n == 0 || n > S7_ASCII_LEN_MAX)
		return -1;
	const uint8_t *d = cur_bytes(c, n);
	if (!d)
		return -1;
	struct cur dc = cur_init(d, n);
	while (cur_left(&dc)) {
		uint8_t ch = cur_u8(&dc);
		if (ch < '0' || ch > '9')
			return -1;
		acc = acc * 10 + (uint32_t)(ch - '0');
	}
	*v = acc;
	return 0;
}

/* Length byte + block file name; checked with mc7_parse_filename. */
static int s7_read_filename(struct cur *c, struct s7_pdu *o, struct pg_err *err)
{
	size_t at = cur_off(c);
	uint8_t l = cur_u8(c);
	if (c->err)
		return pg_err_set(err, c->err_off, "s7.param.filename_len",
				  "parameter ends before the file name length");
	if (l > S7_FILENAME_MAX)
		return pg_err_set(err, at, "s7.param.filename_len",
				  "file name length %u exceeds %u", l, S7_FILENAME_MAX);
	if (!cur_copy(c, o->filename, l))
		return pg_err_set(err, c->err_off, "s7.param.filename",
				  "file name of %u bytes runs past the parameter", l);
	o->filename[l] = '\0';
	o->filename_len = l;
	o->has_filename = 1;
	o->filename_ok = mc7_parse_filename(o->filename, l, &o->blk_type,
					    &o->blk_number, &o->blk_fs) == 0;
	return 0;
}

/* data: LL LL 00 FB slice; the slice must fill the data part exactly. */
static int s7_read_slice(struct cur *d, struct s7_pdu *o, struct pg_err *err)
{
	if (cur_left(d) == 0)
		return 0;                 /* error replies carry no data */
	size_t at = cur_off(d);
	uint16_t l = cur_u16be(d);
	cur_skip(d, 2);               /* 00 FB: meaning unknown, not checked */
	if (d->err)
		return pg_err_set(err, at, "s7.data.length",
				  "block data shorter than its 4-byte head");
	if (l != cur_left(d))
		return pg_err_set(err, at, "s7.data.length",
				  "slice length %u but %zu data bytes follow", l,
				  cur_left(d));
	o->slice = cur_bytes(d, l);
	o->slice_len = l;
	o->has_slice = 1;
	return 0;
}

static int s7_pi_blocks(struct s7_pdu *o, size_t base, struct pg_err *err)
{
	struct cur b = cur_init_at(o->pi_param, o->pi_param_len, base);
	uint8_t count = cur_u8(&b);
	cur_skip(&b, 1);
	if (b.err)
		return pg_err_set(err, base, "s7.pi.block_count",
				  "PI parameter block too short for a block count");
	if (count > S7_PI_MAX_BLOCKS)
		return pg_err_set(err, base, "s7.pi.block_count",
				  "%u blocks exceed the limit %u", count, S7_PI_MAX_BLOCKS);
	if ((size_t)count * 8 != cur_left(&b))
		return pg_err_set(err, base, "s7.pi.block_count",
				  "%u blocks need %u bytes, the parameter block has %zu",
				  count, count * 8u, cur_left(&b));
	for (unsigned i = 0; i < count; i++) {
		struct s7_pi_block *k = &o->blocks[i];
		cur_copy(&b, k->name, 8);
		k->name[8] = '\0';
		/* Same check as a block control file name: prefix it with '_'. */
		char fn[9];
		fn[0] = '_';
		memcpy(fn + 1, k->name, 8);
		k->valid = mc7_parse_filename(fn, 9, &k->type, &k->number,
					      &k->fs) == 0;
	}
	o->nblocks = count;
	return 0;
}

static int s7_service_read(struct cur *c, struct s7_pdu *o, struct pg_err *err)
{
	size_t at = cur_off(c);
	uint8_t l = cur_u8(c);
	if (c->err)
		return pg_err_set(err, c->err_off, "s7.pi.service_len",
				  "parameter ends before the service name");
	if (l > S7_SERVICE_MAX)
		return pg_err_set(err, at, "s7.pi.service_len",
				  "service name length %u exceeds %u", l, S7_SERVICE_MAX);
	if (!cur_copy(c, o->service, l))
		return pg_err_set(err, c->err_off, "s7.pi.service",
				  "service name of %u bytes runs past the parameter", l);
	o->service[l] = '\0';
	o->service_len = l;
	o->has_service = 1;
	return 0;
}

static int s7_is_service(const struct s7_pdu *o, const char *name)
{
	size_t k = strlen(name);
	return o->service_len == k && memcmp(o->service, name, k) == 0;
}

/* Parameters (and data) of Job / Ack / Ack_Data. */
static int s7_parse_req_resp(struct s7_pdu *o, struct cur *pc, struct cur *dc,
			     struct pg_err *err)
{
	int job = o->rosctr == S7_JOB;
	o->func = cur_u8(pc);
	o->has_func = 1;
	if (cur_left(pc) >= 1 && o->func != S7_F_SETUP) {
		o->status = cur_u8(pc);
		o->has_status = 1;
	}
	switch (o->func) {
	case S7_F_SETUP:
		cur_skip(pc, 1);
		o->amq_calling = cur_u16be(pc);
		o->amq_called = cur_u16be(pc);
		o->pdu_size = cur_u16be(pc);
		if (pc->err)
			return pg_err_set(err, pc->err_off, "s7.param.setup",
					  "setup communication parameter shorter than 8 bytes");
		o->has_setup = 1;
		return 0;
	case S7_F_REQ_DOWNLOAD:
		if (!job)
			return 0;
		cur_skip(pc, 6);
		if (s7_read_filename(pc, o, err) < 0)
			return -1;
		{
			size_t at = cur_off(pc);
			uint8_t l2 = cur_u8(pc);
			if (pc->err || l2 < 13)
				return pg_err_set(err, at, "s7.param.part2_len",
						  "request download part 2 length %u, expected >= 13", l2);
			struct cur p2 = cur_sub(pc, l2);
			if (p2.err)
				return pg_err_set(err, at, "s7.param.part2_len",
						  "part 2 of %u bytes runs past the parameter", l2);
			cur_skip(&p2, 1);   /* '1': meaning unknown */
			size_t ll = cur_off(&p2);
			if (s7_ascii_num(&p2, 6, &o->load_len) < 0)
				return pg_err_set(err, ll, "s7.param.loadmem_len",
						  "load memory length is not 6 ASCII digits");
			size_t ml = cur_off(&p2);
			if (s7_ascii_num(&p2, 6, &o->mc7_len) < 0)
				return pg_err_set(err, ml, "s7.param.mc7code_len",
						  "MC7 code length is not 6 ASCII digits");
			o->has_lengths = 1;
		}
		return 0;
	case S7_F_DOWNLOAD_BLOCK:
	case S7_F_UPLOAD:
		if (job) {
			if (o->func == S7_F_UPLOAD) {
				cur_skip(pc, 2);
				o->upload_id = cur_u32be(pc);
				if (pc->err)
					return pg_err_set(err, pc->err_off, "s7.param.upload_id",
							  "upload job shorter than its upload id");
				o->has_upload_id = 1;
				return 0;
			}
			cur_skip(pc, 6);
			return s7_read_filename(pc, o, err) < 0 ? -1 : 0;
		}
		if (!o->has_status)
			return pg_err_set(err, cur_off(pc), "s7.param.functionstatus",
					  "block data reply without function status");
		return s7_read_slice(dc, o, err) < 0 ? -1 : 0;
	case S7_F_DOWNLOAD_END:
		if (!job)
			return 0;
		o->blk_err = cur_u16be(pc);
		o->has_blk_err = !pc->err;
		cur_skip(pc, 4);
		return s7_read_filename(pc, o, err) < 0 ? -1 : 0;
	case S7_F_START_UPLOAD:
		cur_skip(pc, 2);
		o->upload_id = cur_u32be(pc);
		if (pc->err)
			return pg_err_set(err, pc->err_off, "s7.param.upload_id",
					  "start upload shorter than its upload id");
		o->has_upload_id = 1;
		if (job)
			return s7_read_filename(pc, o, err) < 0 ? -1 : 0;
		if (cur_left(pc) == 0)
			return 0;     /* error replies stop after the id */
		{
			size_t at = cur_off(pc);
			uint8_t l = cur_u8(pc);
			if (s7_ascii_num(pc, l, &o->total_len) < 0)
				return pg_err_set(err, at, "s7.param.blocklength",
						  "upload length is not 1..%u ASCII digits",
						  S7_ASCII_LEN_MAX);
			o->has_total = 1;
		}
		return 0;
	case S7_F_END_UPLOAD:
		if (!job)
			return 0;
		o->blk_err = cur_u16be(pc);
		o->upload_id = cur_u32be(pc);
		if (pc->err)
			return pg_err_set(err, pc->err_off, "s7.param.upload_id",
					  "end upload shorter than its upload id");
		o->has_blk_err = 1;
		o->has_upload_id = 1;
		return 0;
	case S7_F_PI:
		if (!job)
			return 0;
		cur_skip(pc, 6);   /* [1] was read as status; [2-7] unknown */
		{
			size_t at = cur_off(pc);
			uint16_t bl = cur_u16be(pc);
			struct cur b = cur_sub(pc, bl);
			if (pc->err)
				return pg_err_set(err, at, "s7.pi.param_len",
						  "PI parameter block of %u bytes runs past the parameter", bl);
			o->pi_param = cur_bytes(&b, bl);
			o->pi_param_len = bl;
			size_t boff = at + 2;
			if (s7_service_read(pc, o, err) < 0)
				return -1;
			if (s7_is_service(o, "_INSE") || s7_is_service(o, "_DELE"))
				return s7_pi_blocks(o, boff, err) < 0 ? -1 : 0;
		}
		return 0;
	case S7_F_PLC_STOP:
		if (!job)
			return 0;
		cur_skip(pc, 4);   /* [1] was read as status; [2-5] unknown */
		return s7_service_read(pc, o, err) < 0 ? -1 : 0;
	default:
		return 0;          /* read/write var and others: recognised only */
	}
}

static int s7_parse_userdata(struct s7_pdu *o, struct cur *pc)
{
	if (!cur_peek_eq(pc, "\x00\x01\x12", 3))
		return 0;          /* other userdata heads: recognised only */
	cur_skip(pc, 3);
	cur_skip(pc, 1);       /* parameter length */
	o->ud_method = cur_u8(pc);
	uint8_t tg = cur_u8(pc);
	o->ud_subfunc = cur_u8(pc);
	if (pc->err)
		return 0;
	o->ud_type = tg >> 4;
	o->ud_group = tg & 0x0F;
	o->has_ud = 1;
	return 0;
}

int s7_parse_pdu(const uint8_t *p, size_t n, size_t base, struct s7_pdu *o,
		 struct pg_err *err)
{
	memset(o, 0, sizeof *o);
	struct cur c = cur_init_at(p, n, base);
	uint8_t protid = cur_u8(&c);
	o->rosctr = cur_u8(&c);
	o->redundancy = cur_u16be(&c);
	o->pduref = cur_u16be(&c);
	o->param_len = cur_u16be(&c);
	o->data_len = cur_u16be(&c);
	if (c.err)
		return pg_err_set(err, c.err_off, "s7.header",
				  "S7 PDU of %zu bytes is shorter than its header", n);
	if (protid != S7_PROTID)
		return pg_err_set(err, base, "s7.header.protid",
				  "protocol id 0x%02x, expected 0x32", protid);
	size_t hl = S7_HDR_LEN;
	switch (o->rosctr) {
	case S7_ACK:
	case S7_ACK_DATA:
		o->errcls = cur_u8(&c);
		o->errcod = cur_u8(&c);
		if (c.err)
			return pg_err_set(err, c.err_off, "s7.header.errcls",
					  "Ack header shorter than 12 bytes");
		o->has_err = 1;
		hl = S7_HDR_LEN_ACK;
		break;
	case S7_JOB:
	case S7_USERDATA:
		break;
	default:
		return pg_err_set(err, base + 1, "s7.header.rosctr",
				  "unknown ROSCTR %u", o->rosctr);
	}
	if (hl + o->param_len + o->data_len != n)
		return pg_err_set(err, base + 6, "s7.header.param_len",
				  "header %zu + parameter %u + data %u != PDU length %zu",
				  hl, o->param_len, o->data_len, n);
	o->param_off = cur_off(&c);
	struct cur pc = cur_sub(&c, o->param_len);
	o->data_off = cur_off(&c);
	struct cur dc = cur_sub(&c, o->data_len);
	o->param = pc.p;
	o->data = dc.p;
	if (pc.err || dc.err)   /* cannot happen after the length check */
		return pg_err_set(err, base, "s7.header", "internal length error");
	if (o->param_len == 0)
		return 0;
	if (o->rosctr == S7_USERDATA)
		return s7_parse_userdata(o, &pc);
	return s7_parse_req_resp(o, &pc, &dc, err) < 0 ? 1 : 0;
}

const char *s7_rosctr_name(uint8_t rosctr)
{
	switch (rosctr) {
	case S7_JOB: return "Job";
	case S7_ACK: return "Ack";
	case S7_ACK_DATA: return "Ack_Data";
	case S7_USERDATA: return "Userdata";
	default: return "unknown";
	}
}

const char *s7_func_name(uint8_t func)
{
	switch (func) {
	case S7_F_READ_VAR: return "Read var";
	case S7_F_WRITE_VAR: return "Write var";
	case S7_F_REQ_DOWNLOAD: return "Request download";
	case S7_F_DOWNLOAD_BLOCK: return "Download block";
	case S7_F_DOWNLOAD_END: return "Download ended";
	case S7_F_START_UPLOAD: return "Start upload";
	case S7_F_UPLOAD: return "Upload";
	case S7_F_END_UPLOAD: return "End upload";
	case S7_F_PI: return "PI service";
	case S7_F_PLC_STOP: return "PLC stop";
	case S7_F_SETUP: return "Setup communication";
	default: return NULL;
	}
}

const char *s7_error_name(uint16_t code)
{
	switch (code) {
	case 0xD235: return "bad block checksum";
	case 0xD237: return "a block with the same timestamp already exists";
	case 0xD241: return "operation not permitted at the current protection level";
	case 0xD280: return "error compiling the block in the CPU";
	default: return NULL;
	}
}
