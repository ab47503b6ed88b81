/*
 * s7comm.h - one reassembled S7comm PDU (protocol id 0x32) decoded into a
 * struct.  Wire facts: ../shared/docs/PROTOCOLS.md section 2, confirmed on
 * ../shared/corpus/pcap/s7/s7comm_downloading_block_db1.pcap.
 *
 *   0 protid 32 | 1 ROSCTR | 2-3 redundancy | 4-5 PDU ref | 6-7 param len
 *   8-9 data len | [10 errcls | 11 errcod: ROSCTR 2 and 3 only]
 *   then param_len parameter bytes, then data_len data bytes: nothing more.
 *
 * Only what the collector needs is decoded: setup, the block functions
 * (download 1A-1C, upload 1D-1F), PI services (28), PLC stop (29); read and
 * write var are recognised by function code; userdata by group/subfunction.
 * Pointers in the result point into the caller's buffer.
 */
#ifndef PG_S7COMM_H
#define PG_S7COMM_H

#include <stddef.h>
#include <stdint.h>

#include "pgerr.h"
#include "pg_limits.h"

#define S7_PROTID             0x32
#define S7_HDR_LEN            10
#define S7_HDR_LEN_ACK        12

enum s7_rosctr {
	S7_JOB = 1,
	S7_ACK = 2,
	S7_ACK_DATA = 3,
	S7_USERDATA = 7,
};

enum s7_func {
	S7_F_READ_VAR = 0x04,
	S7_F_WRITE_VAR = 0x05,
	S7_F_REQ_DOWNLOAD = 0x1A,
	S7_F_DOWNLOAD_BLOCK = 0x1B,
	S7_F_DOWNLOAD_END = 0x1C,
	S7_F_START_UPLOAD = 0x1D,
	S7_F_UPLOAD = 0x1E,
	S7_F_END_UPLOAD = 0x1F,
	S7_F_PI = 0x28,
	S7_F_PLC_STOP = 0x29,
	S7_F_SETUP = 0xF0,
};

/* Function status bits of 1B/1E Ack_Data. */
#define S7_FS_MORE   0x01
#define S7_FS_ERROR  0x02

/* One block named in a PI _INSE/_DELE parameter block: "0A00001P". */
struct s7_pi_block {
	char name[9];          /* 8 chars + NUL */
	int valid;             /* type/number/fs decoded */
	uint8_t type;
	uint16_t number;
	char fs;
};

struct s7_pdu {
	/* header */
	uint8_t rosctr;
	uint16_t redundancy, pduref, param_len, data_len;
	int has_err;                     /* ROSCTR 2/3 */
	uint8_t errcls, errcod;
	const uint8_t *param, *data;
	size_t param_off, data_off;      /* absolute offsets */

	/* first parameter byte (not for userdata) */
	int has_func;
	uint8_t func;
	int has_status;
	uint8_t status;                  /* function status byte [1] */

	/* block file name (1A/1B/1C/1D job) */
	int has_filename;
	char filename[S7_FILENAME_MAX + 1];
	size_t filename_len;
	int filename_ok;                 /* mc7_parse_filename accepted it */
	uint8_t blk_type;
	uint16_t blk_number;
	char blk_fs;

	/* F0 setup */
	int has_setup;
	uint16_t amq_calling, amq_called, pdu_size;

	/* 1A job: announced lengths */
	int has_lengths;
	uint32_t load_len, mc7_len;

	/* 1B / 1E Ack_Data: one slice */
	int has_slice;
	const uint8_t *slice;
	size_t slice_len;

	/* 1C job / 1F job: block error code */
	int has_blk_err;
	uint16_t blk_err;

	/* 1D / 1E / 1F: upload id; 1D Ack_Data: ASCII total length */
	int has_upload_id;
	uint32_t upload_id;
	int has_total;
	uint32_t total_len;

	/* 28 PI / 29 stop */
	int has_service;
	char service[S7_SERVICE_MAX + 1];
	size_t service_len;
	const uint8_t *pi_param;
	size_t pi_param_len;
	unsigned nblocks;                /* _INSE/_DELE */
	struct s7_pi_block blocks[S7_PI_MAX_BLOCKS];

	/* userdata */
	int has_ud;
	uint8_t ud_method, ud_type, ud_group, ud_subfunc;
};

/*
 * Decode one PDU occupying exactly p[0..n) (base = its absolute stream
 * offset, for errors).  Returns
 *    0  header and the parameters of the known functions are good;
 *    1  header good (rosctr, pduref, lengths, error, func usable) but the
 *       function's parameters/data are malformed: err says where;
 *   -1  not a usable S7comm PDU (bad protid, short header, lengths that do
 *       not add up): err says where.
 */
int s7_parse_pdu(const uint8_t *p, size_t n, size_t base, struct s7_pdu *out,
		 struct pg_err *err);

const char *s7_rosctr_name(uint8_t rosctr);   /* "Job", ... or "unknown" */
const char *s7_func_name(uint8_t func);       /* "Request download", ... or NULL */
/* Well-known (errcls << 8 | errcod) values, or NULL. */
const char *s7_error_name(uint16_t code);

#endif
