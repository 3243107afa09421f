/*
 * card_image: images are read into memory once and checked before libharu sees them.
 * libharu 2.3.0 hands PNG files to libpng without an error jump, so a damaged PNG makes
 * libpng abort() the whole process; here the same bytes are first decoded completely with
 * libpng's simplified API (which catches its own errors), and only then given to libharu
 * from memory, so what was checked is what is drawn.
 */
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card_int.h"

#define IMAGE_MAX_BYTES (32L * 1024 * 1024)
#define IMAGE_MAX_PIXELS (40L * 1000 * 1000)   /* e.g. 8000 x 5000: far beyond any card */

static int read_all(const char *path, unsigned char **data, size_t *len, char err[ERR_LEN])
{
	FILE *fp = fopen(path, "rb");
	long size;
	if (!fp)
		return err_set(err, "cannot open %s: %s", path, strerror(errno));
	if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
		fclose(fp);
		return err_set(err, "cannot read %s", path);
	}
	if (size == 0 || size > IMAGE_MAX_BYTES) {
		fclose(fp);
		return err_set(err, "%s: %s", path, size == 0 ? "empty file" : "image over 32 MB");
	}
	*data = xmalloc((size_t)size);
	if (fread(*data, 1, (size_t)size, fp) != (size_t)size) {
		fclose(fp);
		free(*data);
		*data = NULL;
		return err_set(err, "cannot read %s", path);
	}
	fclose(fp);
	*len = (size_t)size;
	return 0;
}

/* png_check: decodes the whole PNG (every row, every CRC) so that libharu cannot meet an error. */
static int png_check(const char *path, const unsigned char *data, size_t len, char err[ERR_LEN])
{
	png_image im;
	void *pixels;
	int ok;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&im, data, len))
		return err_set(err, "%s: not a readable PNG (%s)", path, im.message);
	if ((long)im.width * (long)im.height > IMAGE_MAX_PIXELS) {
		png_image_free(&im);
		return err_set(err, "%s: %ux%u pixels is too large for a card", path, im.width, im.height);
	}
	im.format = PNG_FORMAT_RGBA;
	pixels = xmalloc(PNG_IMAGE_SIZE(im));
	ok = png_image_finish_read(&im, NULL, pixels, 0, NULL);
	free(pixels);
	if (!ok) {
		err_set(err, "%s: damaged PNG (%s)", path, im.message);
		png_image_free(&im);
		return -1;
	}
	png_image_free(&im);
	return 0;
}

HPDF_Image card_image_load(HPDF_Doc doc, struct hpdf_err *herr, const char *path, int jpeg, char err[ERR_LEN])
{
	unsigned char *data = NULL;
	size_t len = 0;
	HPDF_Image img = NULL;
	if (read_all(path, &data, &len, err) != 0)
		return NULL;
	if (!jpeg && png_check(path, data, len, err) != 0)
		goto out;
	herr->status = 0;
	img = jpeg ? HPDF_LoadJpegImageFromMem(doc, data, (HPDF_UINT)len) : HPDF_LoadPngImageFromMem(doc, data, (HPDF_UINT)len);
	if (!img || herr->status) {
		card_hpdf_fail(err, herr, path);
		HPDF_ResetError(doc);
		img = NULL;
	} else if (!jpeg) {
		/* libharu 2.3.0 leaves a PNG's alpha channel (its SMask) uncompressed: 90 KB for a 300 px square. */
		HPDF_Dict smask = HPDF_Dict_GetItem(img, "SMask", HPDF_OCLASS_DICT);
		if (smask && smask->stream)
			smask->filter = HPDF_STREAM_FILTER_FLATE_DECODE;
	}
out:
	free(data);
	return img;
}
