import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsDefined,
  IsIn,
  IsInt,
  IsISO31661Alpha2,
  IsISO8601,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  IsObject,
  ValidateNested,
} from 'class-validator';
import { AD_OBJECTIVES, AdObjective } from '@realapp/meta-ads';
import { Gender, GENDERS } from '@realapp/orders';

const HTTPS_URL: Parameters<typeof IsUrl>[0] = {
  protocols: ['https'],
  require_protocol: true,
  require_valid_protocol: true,
  require_tld: true,
};

/** SPEC §13 "Orders": who sees the ads. */
export class TargetingDto {
  @ApiProperty({
    type: [String],
    minItems: 1,
    maxItems: 25,
    example: ['BR'],
    description: 'ISO 3166-1 alpha-2, upper case',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(25)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(/^[A-Z]{2}$/, {
    each: true,
    message: 'each country must be an upper-case ISO 3166-1 alpha-2 code',
  })
  @IsISO31661Alpha2({ each: true, message: 'each country must be an ISO 3166-1 alpha-2 code' })
  countries: string[];

  @ApiProperty({ minimum: 13, maximum: 65, example: 18 })
  @IsInt()
  @Min(13)
  @Max(65)
  ageMin: number;

  @ApiProperty({ minimum: 13, maximum: 65, example: 45, description: 'greater than or equal to ageMin' })
  @IsInt()
  @Min(13)
  @Max(65)
  ageMax: number;

  @ApiPropertyOptional({ enum: GENDERS, isArray: true })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(2)
  @ArrayUnique()
  @IsIn(GENDERS, { each: true })
  genders?: Gender[];
}

/** SPEC §13 "Orders": what the ad says and where it leads. */
export class CreativeDto {
  @ApiProperty({ minLength: 1, maxLength: 40, example: 'Apartments near the beach' })
  @IsString()
  @MinLength(1)
  @MaxLength(40)
  headline: string;

  @ApiProperty({ minLength: 1, maxLength: 125, example: 'Two bedrooms, sea view, ready to move in.' })
  @IsString()
  @MinLength(1)
  @MaxLength(125)
  body: string;

  @ApiProperty({ format: 'uri', example: 'https://cdn.example.com/ad.jpg', description: 'https only' })
  @IsString()
  @MaxLength(2048)
  @IsUrl(HTTPS_URL, { message: 'imageUrl must be an https URL' })
  imageUrl: string;

  @ApiProperty({ format: 'uri', example: 'https://example.com/listing/42', description: 'https only' })
  @IsString()
  @MaxLength(2048)
  @IsUrl(HTTPS_URL, { message: 'linkUrl must be an https URL' })
  linkUrl: string;
}

export class CreateOrderDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'Beach apartments, March' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  @Matches(/\S/, { message: 'name must not be blank' })
  name: string;

  @ApiProperty({ enum: AD_OBJECTIVES, description: "Mapped to Meta's OUTCOME_* objectives" })
  @IsIn(AD_OBJECTIVES)
  objective: AdObjective;

  @ApiProperty({
    minimum: 1000,
    maximum: 100000000,
    example: 9000,
    description: 'Integer centavos; held from the wallet when the order is queued',
  })
  @IsInt()
  @Min(1000)
  @Max(100000000)
  budgetCents: number;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  startsAt?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'after startsAt (or after now without one)' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true })
  endsAt?: string;

  @ApiProperty({ type: TargetingDto })
  @IsDefined()
  // ValidateNested checks each element of an array and passes an empty one: the object itself is required.
  @IsObject()
  @ValidateNested()
  @Type(() => TargetingDto)
  targeting: TargetingDto;

  @ApiProperty({ type: CreativeDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => CreativeDto)
  creative: CreativeDto;
}
